// A loopback port that was free a moment ago, for servers that must be told their port before they start (a
// webhook URL, a child process, rsyslog's config). Another process can still take it in between: callers that can
// listen on port 0 themselves should.
import { createServer, type AddressInfo } from 'node:net';

export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
