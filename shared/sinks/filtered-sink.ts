// A sink that takes only the events matching its own filter: a decorator, so the worker stays unaware of it.
// The filter is deterministic, so `accepted` (counted over the filtered records) stays valid across retries.
import type { RecordFilter } from '../records/filters';
import type { Sink } from './sink';

export function filteredSink(sink: Sink, filter: RecordFilter): Sink {
  return {
    name: sink.name,
    async open(content, options) {
      const writer = await sink.open(content, options);
      return {
        write: (records) => writer.write(records.filter((r) => filter(r, { contentType: content.contentType }))),
        close: () => writer.close(),
        abort: () => writer.abort(),
        get accepted() {
          return writer.accepted;
        },
      };
    },
  };
}
