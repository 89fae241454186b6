// A table is created on first use, once per process: createTable treats 409 TableAlreadyExists as success, and a
// failure is forgotten so the next call tries again (storage that was down at start-up does not stay "missing"), and
// `forget()` makes the next call create it again after a TableNotFound (a table deleted underneath).
import type { TableClient } from '@azure/data-tables';
import { toStateStoreError } from './store-error';

export function tableOnce(table: TableClient, operation = 'create table'): { ensure(): Promise<void>; forget(): void } {
  let ready: Promise<void> | undefined;
  return {
    ensure: () =>
      (ready ??= table.createTable().catch((err: unknown) => {
        ready = undefined;
        throw toStateStoreError(operation, err);
      })),
    forget: () => {
      ready = undefined;
    },
  };
}
