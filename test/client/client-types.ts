// Checked by `npm run typecheck` only (jest runs *.test.ts): the published types of `sse-relay/client`, resolved by
// package name through package.json `exports`, must accept what the README shows and refuse what the client refuses.
import { RelayClient, type RelayState, type StateChangeDetail } from 'sse-relay/client';

export function readmeUsage(): RelayClient {
  const client = new RelayClient('https://relay.example.com/events', {
    topics: ['orders'],
    token: async ({ reason }) => (reason === 'unauthorized' ? 'fresh' : 'cached'),
    tokenTransport: 'query',
  });
  client.on<{ id: number }>('created', (order, event) => console.log(order.id, event.lastEventId));
  const handler = (data: unknown): void => console.log(data);
  client.on('message', handler).off('message', handler);
  client.addEventListener('statechange', (event) => {
    const detail: StateChangeDetail = event.detail;
    const state: RelayState = detail.state;
    console.log(state, detail.status, detail.delayMs);
  });
  client.addEventListener('forbidden', (event) => console.log(event.detail.status));
  client.addEventListener('reset', (event) => console.log(event.detail.topics.join()));
  // @ts-expect-error: topics are required
  void new RelayClient('/events', {});
  // @ts-expect-error: only header, query and cookie
  void new RelayClient('/events', { topics: ['a'], tokenTransport: 'body' });
  // @ts-expect-error: state is read-only
  client.state = 'open';
  return client;
}
