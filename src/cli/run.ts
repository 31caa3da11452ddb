// `npx orgplane …`: the operator's CLI, callable in-process. run(argv, io) parses argv (the words
// after `orgplane`), writes only to io and answers the exit code; bin/orgplane.js (through main.ts)
// binds it to the process. Commands call services directly (no HTTP, no Fastify routes); each
// command group is its own function, so a change to one group touches one place.
import { createPublicKey } from 'node:crypto';
import fs from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { readCheckpointFile } from '../audit/checkpoints.ts';
import pino from 'pino';
import { loadConfig, PLANS, type Config, type Plan } from '../config.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { MEMBER_ROLES, type MemberRole } from '../db/schema.ts';
import { AppError } from '../domain/errors.ts';
import { APPLICATION_TYPES } from '../domain/projects.ts';
import { createServices, type Services } from '../services.ts';

/** Where a CLI run reads and writes: process.stdout/stderr/env in production, buffers in tests. */
export interface CliIo {
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  stdin?: NodeJS.ReadableStream | undefined;
  env: NodeJS.ProcessEnv;
}

/** What every command gets: the io, and (act) services on the configured database for one command. */
interface Ctx {
  io: CliIo;
  config: () => Config;
  print(value: unknown): void;
  out(text: string): void;
  /** A command's action: fn gets services on the configured database, then commander's arguments. */
  act<A extends unknown[]>(fn: (s: Services, ...args: A) => Promise<void>): (...args: A) => Promise<void>;
}

function openConfigured(c: Config): Db {
  return openDatabase({ dataDir: c.dataDir, databaseUrl: c.databaseUrl, pgSchema: c.pgSchema });
}

// Options several commands take, declared once so their names, values and help agree.
const orgOption = (description = 'organization id') => new Option('--org <org_id>', description);
const roleOption = () => new Option('--role <role>', 'role').choices(MEMBER_ROLES);
const planOption = () => new Option('--plan <plan>', 'plan').choices(PLANS);

/** An integer option's value, or a one-line BAD_REQUEST naming the option and its range. */
function integerOption(name: string, value: string, min: number, max?: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min || (max !== undefined && n > max)) {
    const range =
      max !== undefined
        ? `an integer from ${min} to ${max}`
        : min === 0
          ? 'a non-negative integer'
          : `an integer of at least ${min}`;
    throw new AppError('BAD_REQUEST', `${name} must be ${range}`);
  }
  return n;
}

// What the commands print of a row: the same fields wherever that row is answered.
const orgJson = (org: { id: string; name: string; plan: string }) => ({
  id: org.id,
  name: org.name,
  plan: org.plan,
});
const memberJson = (m: { id: string; org_id: string; user_id: string; role: string }) => ({
  id: m.id,
  org_id: m.org_id,
  user_id: m.user_id,
  role: m.role,
});

/**
 * stdout as the commands see it: once the reader has gone (`orgplane mail list | head`: EPIPE) the
 * rest of the output is dropped and the command ends normally, instead of an unhandled 'error'.
 */
function guardedStdout(stdout: CliIo['stdout']): CliIo['stdout'] {
  let gone = false;
  const stream = stdout as Partial<NodeJS.WritableStream>;
  stream.on?.('error', (err: NodeJS.ErrnoException) => {
    gone = true;
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
  return { write: (chunk: string) => (gone ? false : stdout.write(chunk)) };
}

function context(given: CliIo): Ctx {
  const io: CliIo = { ...given, stdout: guardedStdout(given.stdout) };
  const config = () => loadConfig(io.env);
  // Warnings go to stderr so stdout stays the command's output (scripts read it).
  const log = pino({ level: 'warn' }, { write: (line: string) => void io.stderr.write(line) });
  const out = (text: string) => void io.stdout.write(text);
  async function withServices<T>(fn: (s: Services) => Promise<T>): Promise<T> {
    const c = config();
    const db = openConfigured(c);
    try {
      await migrateToLatest(db);
      return await fn(createServices(db, c, log));
    } finally {
      await db.close();
    }
  }
  return {
    io,
    config,
    out,
    print: (value) => out(`${JSON.stringify(value, null, 2)}\n`),
    act:
      (fn) =>
      (...args) =>
        withServices((s) => fn(s, ...args)),
  };
}

function serverCommands(program: Command, ctx: Ctx): void {
  program
    .command('serve')
    .description('start the server (PORT, HOST, DATABASE_URL, ORGPLANE_DATA_DIR, …; see the README)')
    .action(async () => {
      // Loaded here: the HTTP stack is heavy, and the other commands (and --help) do not need it.
      const { serve } = await import('../main.ts');
      await serve(ctx.config());
    });

  program
    .command('migrate')
    .description('apply database migrations and exit')
    .action(async () => {
      // Not withServices: it migrates first, so this would always report "up to date".
      const db = openConfigured(ctx.config());
      try {
        const applied = await migrateToLatest(db);
        ctx.out(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
      } finally {
        await db.close();
      }
    });
}

function userCommands(program: Command, ctx: Ctx): void {
  const users = program.command('users').description('manage users');
  users
    .command('create')
    .description('create a user')
    .requiredOption('--email <email>', 'email address')
    .option('--name <name>', 'display name')
    .action(
      ctx.act(async (s, o: { email: string; name?: string }) => {
        const u = await s.users.create({ email: o.email, name: o.name });
        ctx.print({ id: u.id, email: u.email, name: u.name });
      }),
    );

  users
    .command('setup-link')
    .description(
      "print a one-time link (valid 72 hours) to set the user's console password; ends the user's console sessions now",
    )
    .requiredOption('--email <email>', "the user's email")
    .action(
      ctx.act(async (s, o: { email: string }) => {
        const user = await s.users.byEmail(o.email);
        const { token, sessionsEnded } = await s.sessions.issueSetupLink(user.id);
        ctx.out(`${s.config.publicUrl}/setup?token=${token}\n`);
        // stdout is the link alone (scripts read it); what it is based on goes to stderr.
        const base = s.config.publicUrlFromEnv
          ? `base URL ${s.config.publicUrl} (from PUBLIC_URL)`
          : `base URL ${s.config.publicUrl} (made from HOST and PORT: PUBLIC_URL is not set)`;
        ctx.io.stderr.write(
          `orgplane: ${base}; if people reach the server at another address, run again with PUBLIC_URL set to it, e.g. PUBLIC_URL=https://orgplane.example.com\n` +
            `orgplane: ended ${sessionsEnded} console session(s) of ${user.email}; the link is valid 72 hours, once\n`,
        );
      }),
    );
}

function orgCommands(program: Command, ctx: Ctx): void {
  const orgs = program.command('orgs').description('manage organizations');
  orgs
    .command('create')
    .description('create an organization with an existing user as its admin')
    .requiredOption('--name <name>', 'organization name')
    .requiredOption('--admin <email>', "email of the user who becomes the organization's admin")
    .addOption(planOption().default('free'))
    .action(
      ctx.act(async (s, o: { name: string; admin: string; plan: Plan }) => {
        const org = await s.organizations.createForEmail(o.admin, { name: o.name, plan: o.plan });
        ctx.print(orgJson(org));
      }),
    );
  orgs
    .command('set-plan')
    .description("change an organization's plan")
    .addOption(orgOption().makeOptionMandatory())
    .addOption(planOption().makeOptionMandatory())
    .action(
      ctx.act(async (s, o: { org: string; plan: Plan }) => {
        const org = await s.organizations.setPlan(o.org, o.plan);
        ctx.print(orgJson(org));
      }),
    );
}

function memberCommands(program: Command, ctx: Ctx): void {
  const members = program.command('members').description('manage organization members');
  members
    .command('add')
    .description('add an existing user to an organization')
    .addOption(orgOption().makeOptionMandatory())
    .requiredOption('--email <email>', "the user's email")
    .addOption(roleOption().default('member'))
    .action(
      ctx.act(async (s, o: { org: string; email: string; role: MemberRole }) => {
        const m = await s.members.add(o.org, o.email, o.role);
        ctx.print(memberJson(m));
      }),
    );
  members
    .command('set-role')
    .description("change a member's role (never the organization's only admin)")
    .addOption(orgOption().makeOptionMandatory())
    .requiredOption('--email <email>', "the member's email")
    .addOption(roleOption().makeOptionMandatory())
    .action(
      ctx.act(async (s, o: { org: string; email: string; role: MemberRole }) => {
        const m = await s.members.setRoleByEmail(o.org, o.email, o.role);
        ctx.print(memberJson(m));
      }),
    );
}

function keyCommands(program: Command, ctx: Ctx): void {
  const keys = program.command('keys').description('manage API keys');
  keys
    .command('create')
    .description('create a personal API key for a user (the token is printed once)')
    .requiredOption('--email <email>', "the key owner's email")
    .option('--name <name>', 'key name', 'cli')
    .action(
      ctx.act(async (s, o: { email: string; name: string }) => {
        const user = await s.users.byEmail(o.email);
        const { row, token } = await s.apiKeys.createPersonalFor(user.id, o.name);
        ctx.print({ id: row.id, name: row.name, key: token });
      }),
    );
}

function projectCommands(program: Command, ctx: Ctx): void {
  const projects = program.command('projects').description('manage projects (control-plane records)');
  projects
    .command('create')
    .description("create a project in an organization, or (without --org) in a user's personal account")
    .requiredOption('--owner <email>', "the owner's email (a member of --org)")
    .addOption(orgOption('organization id (omit for a personal project)'))
    .option('--name <name>', 'project name (default: the generated id)')
    .option('--region <region_id>', 'region, e.g. aws-us-east-2')
    .action(
      ctx.act(async (s, o: { owner: string; org?: string; name?: string; region?: string }) => {
        const user = await s.users.byEmail(o.owner);
        try {
          // The service enforces that the owner is a member of the organization (the API too).
          const { project } = await s.projects.createRecord(o.org ?? null, user.id, {
            ...(o.name ? { name: o.name } : {}),
            ...(o.region ? { region_id: o.region } : {}),
          });
          ctx.print({
            id: project.id,
            name: project.name,
            org_id: project.org_id,
            owner_id: project.owner_id,
          });
        } catch (err) {
          if (err instanceof AppError && err.code === 'BAD_REQUEST' && /is not a member/.test(err.message)) {
            throw new AppError(
              err.code,
              `${err.message}; add them first (npx orgplane members add --org ${o.org} --email ${o.owner})`,
            );
          }
          // The operator typed the id: name it.
          if (
            err instanceof AppError &&
            err.code === 'NOT_FOUND' &&
            err.message === 'organization not found'
          ) {
            throw new AppError(err.code, `organization ${o.org} not found`);
          }
          throw err;
        }
      }),
    );
  projects
    .command('set-integration')
    .description(
      'record (or with --remove, delete) an integration on a project; GitHub and Vercel block transfers',
    )
    .requiredOption('--project <project_id>', 'project id')
    .addOption(
      new Option('--integration <type>', 'integration').choices(APPLICATION_TYPES).makeOptionMandatory(),
    )
    .option('--remove', 'remove the integration instead of recording it', false)
    .action(
      ctx.act(async (s, o: { project: string; integration: string; remove: boolean }) => {
        const integrations = await s.projects.setIntegration(o.project, o.integration, !o.remove);
        ctx.print({ id: o.project, integrations });
      }),
    );
}

function mailCommands(program: Command, ctx: Ctx): void {
  const mail = program.command('mail').description('read the mail outbox (invitation emails)');
  mail
    .command('list')
    .description('list the newest messages in the outbox, with their delivery status')
    .option('--limit <n>', 'how many', '50')
    .action(
      ctx.act(async (s, o: { limit: string }) => {
        const limit = integerOption('--limit', o.limit, 1, 10_000);
        const rows = await s.mail.list(limit);
        if (rows.length === 0) {
          ctx.out('the outbox is empty\n');
          return;
        }
        for (const r of rows) {
          const extra = r.status === 'pending' && r.attempts > 0 ? ` (attempts ${r.attempts})` : '';
          ctx.out(`${r.id}  ${r.created_at}  ${r.status}${extra}  ${r.recipient}  ${r.subject}\n`);
        }
      }),
    );
  mail
    .command('show')
    .description(
      'print one message: headers, the plain-text body (with its link) and, with --html, the HTML body',
    )
    .argument('<id>', 'message id (from `mail list`)')
    .option('--html', 'also print the HTML body')
    .action(
      ctx.act(async (s, id: string, o: { html?: boolean }) => {
        const r = await s.mail.get(id);
        if (!r) throw new AppError('NOT_FOUND', `message ${id} not found`);
        const lines = [
          `Id:          ${r.id}`,
          `Message-ID:  ${r.message_id}`,
          `To:          ${r.recipient}`,
          `Subject:     ${r.subject}`,
          `Status:      ${r.status}${r.sent_at ? ` at ${r.sent_at}` : ''}`,
          `Created:     ${r.created_at}`,
          `Attempts:    ${r.attempts}${r.last_error ? ` (last error: ${r.last_error})` : ''}`,
          '',
          r.text_body,
        ];
        if (o.html) lines.push('', '--- HTML ---', r.html_body);
        ctx.out(`${lines.join('\n')}\n`);
      }),
    );
  mail
    .command('flush')
    .description('send every pending message now through SMTP_URL, ignoring retry delays')
    .action(
      ctx.act(async (s) => {
        if (!s.mail.smtpConfigured) throw new AppError('BAD_REQUEST', 'SMTP_URL is not set');
        const n = await s.mail.drain({ ignoreBackoff: true });
        await s.mail.stop();
        const left = (await s.mail.list(10_000)).filter((r) => r.status === 'pending').length;
        ctx.out(`attempted ${n} message(s); ${left} still pending\n`);
      }),
    );
}

function auditCommands(program: Command, ctx: Ctx): void {
  const audit = program.command('audit').description('the audit log: verify its hash chains, export, prune');
  audit
    .command('verify')
    .description("walk an organization's chain (or every chain) and report the first broken event")
    .addOption(orgOption('only this organization'))
    .option('--checkpoints <file>', 'also check the database against these signed checkpoints (JSON lines)')
    .option(
      '--public-key <pem_file>',
      "the checkpoints' public key (default: the one of the local signing key)",
    )
    .action(
      ctx.act(async (s, o: { org?: string; checkpoints?: string; publicKey?: string }) => {
        let broken = 0;
        if (o.checkpoints !== undefined) {
          const key =
            o.publicKey === undefined ? undefined : createPublicKey(fs.readFileSync(o.publicKey, 'utf8'));
          const problems = await s.audit.checkCheckpoints(readCheckpointFile(o.checkpoints), key);
          for (const p of problems) ctx.out(`${p.chain}: TAMPERED: ${p.problem}\n`);
          if (problems.length > 0) broken++;
          else ctx.out(`checkpoints: the database agrees with every checkpoint in ${o.checkpoints}\n`);
        }
        for (const chain of await s.audit.chains(o.org)) {
          const r = await s.audit.verify(chain);
          if (r.ok) {
            ctx.out(`${chain}: ok (${r.events} events)\n`);
          } else {
            broken++;
            ctx.out(`${chain}: BROKEN at event ${r.eventId ?? '(none)'} (seq ${r.seq}): ${r.problem}\n`);
          }
        }
        if (broken > 0) throw new AppError('CONFLICT', `${broken} audit chain(s) failed verification`);
      }),
    );
  audit
    .command('checkpoint')
    .description(
      'sign every chain head now and append it to ORGPLANE_AUDIT_CHECKPOINTS (or stdout with --stdout)',
    )
    .option('--stdout', 'write the checkpoint to stdout instead')
    .action(
      ctx.act(async (s, o: { stdout?: boolean }) => {
        const c = await s.audit.checkpoint();
        if (o.stdout) ctx.out(`${JSON.stringify(c)}\n`);
      }),
    );
  audit
    .command('export')
    .description('write audit events as JSON lines to stdout, oldest first per chain')
    .addOption(orgOption('only this organization'))
    .action(
      ctx.act(async (s, o: { org?: string }) => {
        for (const chain of await s.audit.chains(o.org)) {
          for await (const e of s.audit.scan(chain)) ctx.out(`${JSON.stringify(e)}\n`);
        }
      }),
    );
  audit
    .command('prune')
    .description('remove events older than ORGPLANE_AUDIT_RETENTION_DAYS (the chains stay verifiable)')
    .option('--days <n>', 'retention in days instead of ORGPLANE_AUDIT_RETENTION_DAYS')
    .action(
      ctx.act(async (s, o: { days?: string }) => {
        const days = o.days === undefined ? undefined : integerOption('--days', o.days, 0);
        const n = await s.audit.prune(Date.now(), days);
        ctx.out(`removed ${n} audit event(s)\n`);
      }),
    );
}

/** The whole command tree, built afresh per run (commander keeps parse state in it). */
export function buildProgram(ctx: Ctx): Command {
  const program = new Command()
    .name('orgplane')
    .description("orgplane: a self-hosted server for Neon's Organizations API (v2)")
    // Throw instead of process.exit (subcommands added below inherit this and the output).
    .exitOverride()
    // Usage errors are one line, like every other error: commander's own message plus a pointer to
    // --help (showHelpAfterError would print the whole help after it).
    .configureOutput({
      writeOut: (str) => void ctx.io.stdout.write(str),
      writeErr: (str) => void ctx.io.stderr.write(str),
      outputError: (str, write) => write(`orgplane: ${str.trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
    });
  serverCommands(program, ctx);
  userCommands(program, ctx);
  orgCommands(program, ctx);
  memberCommands(program, ctx);
  keyCommands(program, ctx);
  projectCommands(program, ctx);
  mailCommands(program, ctx);
  auditCommands(program, ctx);
  return program;
}

/** One line for any failure; AggregateError (e.g. ECONNREFUSED on ::1 and 127.0.0.1) has no message of its own. */
function oneLine(err: unknown): string {
  let message = err instanceof AppError || err instanceof Error ? err.message : String(err);
  if (!message && err instanceof AggregateError)
    message = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  const code = (err as { code?: unknown } | null)?.code;
  if (!message) message = typeof code === 'string' ? code : 'unknown error';
  return message.replace(/\s*\n\s*/g, ' ');
}

/** Runs one CLI invocation (argv: the words after `orgplane`) and answers its exit code. */
export async function run(argv: string[], io: CliIo): Promise<number> {
  const program = buildProgram(context(io));
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    // Commander has already printed its own message (usage errors) or the help (--help: code 0).
    if (err instanceof CommanderError) return err.exitCode;
    io.stderr.write(`orgplane: ${oneLine(err)}\n`);
    return 1;
  }
}
