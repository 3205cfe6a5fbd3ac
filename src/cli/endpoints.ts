/**
 * `modelhost endpoints ...`: dedicated endpoints through a running server's management API (the server owns
 * the replica processes, so this talks HTTP rather than opening the database).
 */
import { Command, Option } from 'commander';
import { fail } from './options.ts';
import { callServer as call } from './server-call.ts';

interface Conn {
  url: string;
  token?: string;
  namespace?: string;
  json?: boolean;
}

interface EndpointJson {
  name: string;
  type: string;
  model: { repository: string; task: string; revision: string; image?: { custom?: { command: string; args: string[]; api: string } } };
  compute: { instanceSize: string; threads: number; memoryMb: number; scaling: { minReplica: number; maxReplica: number; scaleToZeroTimeout: number | null } };
  status: { state: string; message: string; url?: string; readyReplica: number; targetReplica: number };
}

function withConnection(cmd: Command): Command {
  return cmd
    .addOption(new Option('--url <url>', 'the modelhost server').env('MODELHOST_URL').default('http://127.0.0.1:8080'))
    .addOption(new Option('--token <token>', 'a token with the endpoints scope (never printed)').env('MODELHOST_TOKEN'))
    .option('--namespace <ns>', "whose endpoints (default: the token's owner, from /api/whoami-v2)")
    .option('--json', 'print the JSON the server answered');
}


async function namespace(conn: Conn): Promise<string> {
  if (conn.namespace) return conn.namespace;
  const who = (await call(conn, 'GET', '/api/whoami-v2')) as { name: string };
  return who.name;
}

function base(ns: string): string {
  return `/api/endpoints/${encodeURIComponent(ns)}`;
}

function show(e: EndpointJson): string {
  const s = e.status;
  return [
    `${e.name} (${e.type})  ${s.state}  ${s.readyReplica}/${s.targetReplica} replicas ready`,
    `  model   ${e.model.repository} (${e.model.task}, revision ${e.model.revision})`,
    ...(e.model.image?.custom ? [`  server  ${[e.model.image.custom.command, ...e.model.image.custom.args].join(' ')} (${e.model.image.custom.api} API)`] : []),
    `  compute ${e.compute.instanceSize}: ${e.compute.threads} thread(s), ${e.compute.memoryMb} MB per replica; replicas ${e.compute.scaling.minReplica}..${e.compute.scaling.maxReplica}` +
      (e.compute.scaling.scaleToZeroTimeout ? `, to zero after ${e.compute.scaling.scaleToZeroTimeout} min idle` : ''),
    `  status  ${s.message}`,
    ...(s.url ? [`  url     ${s.url}`] : []),
  ].join('\n');
}

function print(conn: Conn, e: unknown): void {
  console.log(conn.json ? JSON.stringify(e, null, 2) : show(e as EndpointJson));
}

/** Polls until the endpoint is running and its health route answers, or it failed; prints each change. */
async function waitReady(conn: Conn, ns: string, name: string, timeoutS: number): Promise<void> {
  const deadline = Date.now() + timeoutS * 1000;
  let last = '';
  const started = Date.now();
  while (Date.now() < deadline) {
    const e = (await call(conn, 'GET', `${base(ns)}/${name}`)) as EndpointJson;
    const s = e.status;
    const line = `${s.state} (${s.readyReplica}/${s.targetReplica} replicas ready): ${s.message}`;
    if (line !== last) process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(1)} s] ${line}\n`);
    last = line;
    if (s.state === 'failed' || s.state === 'updateFailed') fail(`endpoint ${name} ${s.state}: ${s.message} (see \`modelhost endpoints logs ${name}\`)`);
    if (s.state === 'running' && s.url) {
      const health = await fetch(new URL(`/endpoints/${name}/health`, conn.url)).catch(() => undefined);
      if (health?.ok) return;
    }
    await new Promise((r) => setTimeout(r, 300));
  }
  fail(`endpoint ${name} was not ready after ${timeoutS} s (state: ${last}); see \`modelhost endpoints logs ${name}\``);
}

interface SpecFlags {
  model?: string;
  task?: string;
  revision?: string;
  type?: string;
  instanceSize?: string;
  threads?: string;
  memoryMb?: string;
  minReplica?: string;
  maxReplica?: string;
  scaleToZeroTimeout?: string;
  pendingPerReplica?: string;
  maxConcurrent?: string;
  port?: string;
  /** A custom server: the command line after `--`, and its settings. */
  command?: string[];
  env?: string[];
  passEnv?: string[];
  workingDir?: string;
  portVariable?: string;
  healthRoute?: string;
  startTimeout?: string;
  api?: string;
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `KEY=value` flags to an object. */
function envOf(pairs: string[] | undefined): Record<string, string> | undefined {
  if (!pairs?.length) return undefined;
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) fail(`--env: expected KEY=value, got "${pair}" (pass a secret by name with --pass-env KEY instead)`);
    out[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return out;
}

function num(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) fail(`${flag}: expected a number, got "${v}"`);
  return n;
}

/** Flags to a (partial) body in the Inference Endpoints shape; only the flags given appear. */
function bodyOf(f: SpecFlags): Record<string, unknown> {
  const clean = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined && !(typeof v === 'object' && v !== null && Object.keys(v).length === 0)));
  const scaling = clean({
    minReplica: num('--min-replica', f.minReplica),
    maxReplica: num('--max-replica', f.maxReplica),
    scaleToZeroTimeout: num('--scale-to-zero-timeout', f.scaleToZeroTimeout),
    maxConcurrentRequests: num('--max-concurrent', f.maxConcurrent),
    measure: f.pendingPerReplica !== undefined ? { pendingRequests: num('--pending-per-replica', f.pendingPerReplica) } : undefined,
  });
  const custom = clean({
    command: f.command?.[0],
    args: f.command?.length ? f.command.slice(1) : undefined,
    env: envOf(f.env),
    passEnv: f.passEnv?.length ? f.passEnv : undefined,
    workingDir: f.workingDir,
    portVariable: f.portVariable,
    healthRoute: f.healthRoute,
    startTimeout: num('--start-timeout', f.startTimeout),
    api: f.api,
  });
  return clean({
    type: f.type,
    model: clean({ repository: f.model, task: f.task, revision: f.revision, image: Object.keys(custom).length ? { custom } : undefined }),
    compute: clean({ instanceSize: f.instanceSize, threads: num('--threads', f.threads), memoryMb: num('--memory-mb', f.memoryMb), scaling }),
    route: f.port !== undefined ? { port: num('--port', f.port) } : undefined,
  });
}

function specOptions(cmd: Command): Command {
  return cmd
    .option('--model <id>', 'model to serve (from GET /api/models), e.g. tiny/bert-sentiment')
    .option('--task <task>', "task to serve (default: the model's pipeline tag)")
    .option('--revision <rev>', 'model revision label; changing it rolls the replicas (they reload the model files)')
    .option('--type <type>', 'public (anyone) | protected (any token) | private (tokens of the owner with the endpoints scope)')
    .option('--instance-size <size>', 'x1 | x2 | x4 | x8: 1, 2, 4 or 8 threads and 2, 4, 8 or 16 GB per replica')
    .option('--threads <n>', 'onnxruntime threads per replica (overrides the instance size)')
    .option('--memory-mb <mb>', 'memory budget per replica; a replica above it is replaced (overrides the instance size)')
    .option('--min-replica <n>', 'replicas always running; 0 allows scale-to-zero')
    .option('--max-replica <n>', 'most replicas autoscaling may run')
    .option('--scale-to-zero-timeout <minutes>', 'minutes without requests before scaling to zero (min-replica 0; default 60)')
    .option('--pending-per-replica <n>', 'autoscaling target: pending requests per replica (default 1.5)')
    .option('--max-concurrent <n>', 'requests in flight and queued beyond which the endpoint answers 429')
    .option('--api <kind>', 'custom server: the API it speaks: openai (/v1/...) | hf (task payloads at /) | tgi | raw (forwarded as is)')
    .option('--env <KEY=value>', 'custom server: an environment variable given by value (repeatable; shown in the endpoint JSON)', collect)
    .option('--pass-env <NAME>', "custom server: pass modelhost's own variable NAME through (repeatable; for keys: only the name is stored)", collect)
    .option('--working-dir <dir>', 'custom server: directory it runs in')
    .option('--port-variable <NAME>', 'custom server: variable carrying each replica\'s port, also replaced as $NAME in its arguments (default PORT)')
    .option('--health-route <path>', 'custom server: GET route answering 2xx once it can serve (default /health)')
    .option('--start-timeout <seconds>', 'custom server: how long a replica may take to become healthy (default 300)');
}

export function endpointsCommand(): Command {
  const cmd = new Command('endpoints')
    .description('Dedicated endpoints: private deployments of one model with their own replicas, autoscaling and scale-to-zero.')
    .addHelpText(
      'after',
      `
Every subcommand talks to a running server (--url, env MODELHOST_URL) with a token that has the endpoints
scope (--token, env MODELHOST_TOKEN; not needed on a loopback server with no token yet).

Examples:
  modelhost endpoints create sentiment --model tiny/bert-sentiment --min-replica 0 --max-replica 2 --wait
  curl -X POST http://127.0.0.1:8080/endpoints/sentiment -H 'content-type: application/json' -d '{"inputs": "I love it"}'
  modelhost endpoints update sentiment --instance-size x2 --wait
  modelhost endpoints scale-to-zero sentiment
  modelhost endpoints logs sentiment --tail 50`,
    );

  const create = withConnection(
    specOptions(
      new Command('create')
        .argument('<name>', 'endpoint name: lowercase letters, digits and hyphens')
        .argument('[command...]', 'a custom server to run instead of a model: its command line after --, with $PORT for its port'),
    ),
  )
    .description('Create an endpoint and start its replicas')
    .option('--wait', 'show progress until the endpoint is ready (or failed)')
    .option('--timeout <seconds>', 'how long --wait waits', '600')
    .addHelpText(
      'after',
      `
Examples:
  modelhost endpoints create ner --model tiny/bert-ner --type private --instance-size x2 --wait
  modelhost endpoints create llama --api openai --pass-env HF_TOKEN --wait -- llama-server -m /models/llama.gguf --port '$PORT'`,
    );
  create.action(async (name: string, command: string[], opts: Conn & SpecFlags & { wait?: boolean; timeout: string }) => {
    if (!opts.model && command.length === 0) fail('--model is required (a model id from `modelhost models`), or a server command after --');
    const ns = await namespace(opts);
    const body = bodyOf({ ...opts, command, model: opts.model ?? (command.length ? name : undefined) });
    const e = await call(opts, 'POST', base(ns), { name, ...body });
    if (opts.wait) await waitReady(opts, ns, name, Number(opts.timeout));
    print(opts, opts.wait ? await call(opts, 'GET', `${base(ns)}/${name}`) : e);
  });

  const update = withConnection(specOptions(new Command('update').argument('<name>').argument('[command...]', "a custom server's new command line, after --")))
    .description('Change an endpoint: scaling applies at once; a new model, revision or size rolls replicas one by one')
    .option('--wait', 'show progress until the update is done (or failed)')
    .option('--timeout <seconds>', 'how long --wait waits', '600')
    .addHelpText('after', '\nExample:\n  modelhost endpoints update sentiment --max-replica 4 --revision v2 --wait');
  update.action(async (name: string, command: string[], opts: Conn & SpecFlags & { wait?: boolean; timeout: string }) => {
    const ns = await namespace(opts);
    const body = bodyOf({ ...opts, command });
    if (Object.keys(body).length === 0) fail('nothing to change: give at least one of the flags (see --help)');
    const e = await call(opts, 'PUT', `${base(ns)}/${name}`, body);
    if (opts.wait) {
      await new Promise((r) => setTimeout(r, 200));
      await waitReady(opts, ns, name, Number(opts.timeout));
    }
    print(opts, opts.wait ? await call(opts, 'GET', `${base(ns)}/${name}`) : e);
  });

  const list = withConnection(new Command('list')).description('List your endpoints');
  list.action(async (opts: Conn) => {
    const { items } = (await call(opts, 'GET', base(await namespace(opts)))) as { items: EndpointJson[] };
    if (opts.json) return console.log(JSON.stringify(items, null, 2));
    if (items.length === 0) return console.log('No endpoints yet. Create one with `modelhost endpoints create <name> --model <id>`.');
    for (const e of items) console.log(`${e.name.padEnd(24)} ${e.status.state.padEnd(13)} ${`${e.status.readyReplica}/${e.status.targetReplica}`.padEnd(6)} ${e.type.padEnd(10)} ${e.model.repository}`);
  });

  const get = withConnection(new Command('get').argument('<name>')).description("Show an endpoint's configuration and status");
  get.action(async (name: string, opts: Conn) => print(opts, await call(opts, 'GET', `${base(await namespace(opts))}/${name}`)));

  const actions = [
    ['pause', 'Stop every replica (no compute); requests get 503 until resumed'],
    ['resume', 'Start a paused, scaled-to-zero or failed endpoint again'],
    ['scale-to-zero', 'Stop every replica now; the next request wakes the endpoint'],
  ] as const;
  const subcommands = [create, update, list, get];
  for (const [action, description] of actions) {
    const c = withConnection(new Command(action).argument('<name>')).description(description);
    if (action === 'resume') c.option('--wait', 'show progress until the endpoint is ready').option('--timeout <seconds>', 'how long --wait waits', '600');
    c.action(async (name: string, opts: Conn & { wait?: boolean; timeout?: string }) => {
      const ns = await namespace(opts);
      const e = await call(opts, 'POST', `${base(ns)}/${name}/${action}`);
      if (opts.wait) await waitReady(opts, ns, name, Number(opts.timeout));
      print(opts, opts.wait ? await call(opts, 'GET', `${base(ns)}/${name}`) : e);
    });
    subcommands.push(c);
  }

  const del = withConnection(new Command('delete').argument('<name>')).description('Delete an endpoint and stop its replicas');
  del.action(async (name: string, opts: Conn) => {
    await call(opts, 'DELETE', `${base(await namespace(opts))}/${name}`);
    console.log(`deleted ${name}`);
  });

  const logs = withConnection(new Command('logs').argument('<name>'))
    .description("An endpoint's lifecycle events and its replicas' output")
    .option('--tail <n>', 'only the last n lines');
  logs.action(async (name: string, opts: Conn & { tail?: string }) => {
    const query = opts.tail ? `?tail=${Number(opts.tail)}` : '';
    process.stdout.write(String(await call(opts, 'GET', `${base(await namespace(opts))}/${name}/logs${query}`)));
  });

  for (const c of [...subcommands, del, logs]) cmd.addCommand(c);
  return cmd;
}
