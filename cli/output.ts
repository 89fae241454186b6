// Buffered writing with back-pressure, so a large decode neither floods memory nor makes a syscall per line.
import { once } from 'node:events';
import type { Writable } from 'node:stream';

export class LineWriter {
  private buffer = '';
  constructor(
    private readonly out: Writable,
    private readonly flushAt = 64 * 1024,
  ) {}

  async write(line: string): Promise<void> {
    this.buffer += line + '\n';
    if (this.buffer.length >= this.flushAt) await this.flush();
  }

  async flush(): Promise<void> {
    if (this.buffer === '') return;
    const text = this.buffer;
    this.buffer = '';
    if (!this.out.write(text)) await once(this.out, 'drain');
  }
}
