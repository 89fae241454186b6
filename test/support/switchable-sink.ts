// A sink of our own contract that keeps what it is given, and stands for an unreachable SIEM while `down`.
import type { DecodedRecord } from '../../shared/records/decode';
import { SinkError, type Sink } from '../../shared/sinks/sink';

/** A sink of our own contract that refuses everything while `down` (stands for a SIEM that is unreachable). */
export function switchableSink(name: string) {
  const received: DecodedRecord[] = [];
  const state = { down: true, received, opened: 0 };
  const sink: Sink = {
    name,
    async open() {
      state.opened++;
      let buffered: DecodedRecord[] = [];
      let accepted = 0;
      return {
        write: async (records) => void buffered.push(...records),
        close: async () => {
          if (state.down) throw new SinkError(name, `${name} is unreachable`, true);
          received.push(...buffered);
          accepted += buffered.length;
          buffered = [];
        },
        abort: async () => void (buffered = []),
        get accepted() {
          return accepted;
        },
      };
    },
  };
  return { sink, state };
}

