// A tiny app registered through the real @azure/functions API, run by the dev host in test/host.test.ts.
// It doubles as the smoke test of the pinned library's internal contract with the host.
import { app, HttpResponse, output, type HttpRequest, type InvocationContext, type Timer } from '@azure/functions';
import { z } from 'zod';
import { record, whileRunning } from './probe';

const connection = 'AzureWebJobsStorage';
const workQueue = output.storageQueue({ queueName: 'work-items', connection });
const resultBlob = output.storageBlob({ path: 'results/{id}.json', connection });

const itemSchema = z.object({ id: z.string().min(1), sleepMs: z.number().int().min(0).optional() }).loose();
const itemsSchema = z.array(itemSchema).min(1);

app.http('notify', {
  methods: ['POST'],
  route: 'o365/notify',
  extraOutputs: [workQueue],
  handler: async (req: HttpRequest, ctx: InvocationContext) => {
    const parsed = itemsSchema.safeParse(await req.json());
    if (!parsed.success) return { status: 400, jsonBody: { error: 'expected a non-empty array of items' } };
    ctx.extraOutputs.set(workQueue, parsed.data);
    return { status: 202, headers: { 'x-queued': String(parsed.data.length) }, jsonBody: { queued: parsed.data.length } };
  },
});

// Returns the library's HttpResponse class (not a plain HttpResponseInit) and reads route params and query.
app.get('item', {
  route: 'items/{id:int}',
  handler: async (req: HttpRequest) => new HttpResponse({ status: 200, jsonBody: { id: req.params['id'], q: req.query.get('q') } }),
});

app.get('sleep', {
  route: 'sleep/{ms:int}',
  handler: async (req: HttpRequest) => {
    await new Promise((resolve) => setTimeout(resolve, Number(req.params['ms'])));
    return { status: 200, body: 'awake' };
  },
});

app.storageQueue('worker', {
  queueName: 'work-items',
  connection,
  extraOutputs: [resultBlob],
  handler: async (message: unknown, ctx: InvocationContext) => {
    const item = itemSchema.parse(message);
    record({ fn: 'worker', id: item.id, dequeueCount: Number(ctx.triggerMetadata?.['dequeueCount']) });
    ctx.extraOutputs.set(resultBlob, JSON.stringify({ item, meta: ctx.triggerMetadata }));
  },
});

app.storageQueue('flaky', {
  queueName: 'flaky-items',
  connection,
  handler: async (message: unknown, ctx: InvocationContext) => {
    const item = itemSchema.parse(message);
    record({ fn: 'flaky', id: item.id, dequeueCount: Number(ctx.triggerMetadata?.['dequeueCount']) });
    throw new Error(`cannot process ${item.id}`);
  },
});

app.storageQueue('slow', {
  queueName: '%SLOW_QUEUE%', // an app-setting reference, resolved by the host
  connection,
  handler: async (message: unknown, ctx: InvocationContext) => {
    const item = itemSchema.parse(message);
    record({ fn: 'slow', id: item.id, dequeueCount: Number(ctx.triggerMetadata?.['dequeueCount']) });
    await new Promise((resolve) => setTimeout(resolve, item.sleepMs ?? 0));
  },
});

app.storageQueue('parallel', {
  queueName: 'parallel-items',
  connection,
  handler: async (message: unknown) => {
    const item = itemSchema.parse(message);
    await whileRunning('parallel', () => new Promise((resolve) => setTimeout(resolve, item.sleepMs ?? 0)));
    record({ fn: 'parallel', id: item.id });
  },
});

app.timer('tick', {
  schedule: '0 0 0 1 1 *',
  extraOutputs: [workQueue],
  handler: async (timer: Timer, ctx: InvocationContext) => {
    record({ fn: 'tick', id: 'tick', detail: { isPastDue: timer.isPastDue, next: timer.scheduleStatus?.next } });
    ctx.extraOutputs.set(workQueue, [{ id: 'from-timer' }]);
  },
});
