// `npx orgplane …`: the operator's CLI. Commands call services directly (no HTTP, no Fastify routes).
import { Command, Option } from 'commander';
import pino from 'pino';
import { loadConfig, PLANS, type Plan } from '../config.ts';
import { openDatabase, type Db } from '../db/connect.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { MEMBER_ROLES, type MemberRole } from '../db/schema.ts';
import { AppError } from '../domain/errors.ts';
import { createServices, type Services } from '../services.ts';

const log = pino({ level: 'warn' });

async function withServices<T>(fn: (s: Services, db: Db) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const db = openDatabase({
    dataDir: config.dataDir,
    databaseUrl: config.databaseUrl,
    pgSchema: config.pgSchema,
  });
  try {
    await migrateToLatest(db);
    const services = createServices(db, config, log);
    return await fn(services, db);
  } finally {
    await db.close();
  }
}

function print(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

const program = new Command()
  .name('orgplane')
  .description("orgplane: a self-hosted server for Neon's Organizations API (v2)")
  // Usage errors are one line, like every other error: commander's own message plus a pointer to
  // --help (showHelpAfterError would print the whole help after it).
  .configureOutput({
    outputError: (str, write) => write(`orgplane: ${str.trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`),
  });

program
  .command('serve')
  .description('start the server (PORT, HOST, DATABASE_URL, ORGPLANE_DATA_DIR, …; see the README)')
  .action(async () => {
    // Loaded here: the HTTP stack is heavy, and the other commands (and --help) do not need it.
    const { serve } = await import('../main.ts');
    await serve();
  });

program
  .command('migrate')
  .description('apply database migrations and exit')
  .action(async () => {
    // Not withServices: it migrates first, so this would always report "up to date".
    const config = loadConfig();
    const db = openDatabase({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
    try {
      const applied = await migrateToLatest(db);
      process.stdout.write(applied.length ? `applied: ${applied.join(', ')}\n` : 'database is up to date\n');
    } finally {
      await db.close();
    }
  });

const users = program.command('users').description('manage users');
users
  .command('create')
  .description('create a user')
  .requiredOption('--email <email>', 'email address')
  .option('--name <name>', 'display name')
  .action(async (o: { email: string; name?: string }) => {
    await withServices(async (s) => {
      const u = await s.users.create({ email: o.email, name: o.name });
      print({ id: u.id, email: u.email, name: u.name });
    });
  });

users
  .command('setup-link')
  .description(
    "print a one-time link (valid 72 hours) to set the user's console password; ends the user's console sessions now",
  )
  .requiredOption('--email <email>', "the user's email")
  .action(async (o: { email: string }) => {
    await withServices(async (s) => {
      const { findUserByEmail } = await import('../users/users.repository.ts');
      const user = await findUserByEmail(s.db.kysely, o.email);
      if (!user) throw new AppError('NOT_FOUND', `user ${o.email} not found`);
      const { token, sessionsEnded } = await s.sessions.issueSetupLink(user.id);
      process.stdout.write(`${s.config.publicUrl}/setup?token=${token}\n`);
      // stdout is the link alone (scripts read it); what it is based on goes to stderr.
      const base = s.config.publicUrlFromEnv
        ? `base URL ${s.config.publicUrl} (from PUBLIC_URL)`
        : `base URL ${s.config.publicUrl} (made from HOST and PORT: PUBLIC_URL is not set)`;
      process.stderr.write(
        `orgplane: ${base}; if people reach the server at another address, run again with PUBLIC_URL set to it, e.g. PUBLIC_URL=https://orgplane.example.com\n` +
          `orgplane: ended ${sessionsEnded} console session(s) of ${user.email}; the link is valid 72 hours, once\n`,
      );
    });
  });

const orgs = program.command('orgs').description('manage organizations');
orgs
  .command('create')
  .description('create an organization with an existing user as its admin')
  .requiredOption('--name <name>', 'organization name')
  .requiredOption('--admin <email>', "email of the user who becomes the organization's admin")
  .addOption(new Option('--plan <plan>', 'plan').choices(PLANS).default('free'))
  .action(async (o: { name: string; admin: string; plan: Plan }) => {
    await withServices(async (s) => {
      const org = await s.organizations.createForEmail(o.admin, { name: o.name, plan: o.plan });
      print({ id: org.id, name: org.name, plan: org.plan });
    });
  });
orgs
  .command('set-plan')
  .description("change an organization's plan")
  .requiredOption('--org <org_id>', 'organization id')
  .addOption(new Option('--plan <plan>', 'plan').choices(PLANS).makeOptionMandatory())
  .action(async (o: { org: string; plan: Plan }) => {
    await withServices(async (s) => {
      const org = await s.organizations.setPlan(o.org, o.plan);
      print({ id: org.id, name: org.name, plan: org.plan });
    });
  });

const members = program.command('members').description('manage organization members');
members
  .command('add')
  .description('add an existing user to an organization')
  .requiredOption('--org <org_id>', 'organization id')
  .requiredOption('--email <email>', "the user's email")
  .addOption(new Option('--role <role>', 'role').choices(MEMBER_ROLES).default('member'))
  .action(async (o: { org: string; email: string; role: MemberRole }) => {
    await withServices(async (s) => {
      const m = await s.members.add(o.org, o.email, o.role);
      print({ id: m.id, org_id: m.org_id, user_id: m.user_id, role: m.role });
    });
  });
members
  .command('set-role')
  .description("change a member's role (never the organization's only admin)")
  .requiredOption('--org <org_id>', 'organization id')
  .requiredOption('--email <email>', "the member's email")
  .addOption(new Option('--role <role>', 'role').choices(MEMBER_ROLES).makeOptionMandatory())
  .action(async (o: { org: string; email: string; role: MemberRole }) => {
    await withServices(async (s) => {
      const m = await s.members.setRoleByEmail(o.org, o.email, o.role);
      print({ id: m.id, org_id: m.org_id, user_id: m.user_id, role: m.role });
    });
  });

const keys = program.command('keys').description('manage API keys');
keys
  .command('create')
  .description('create a personal API key for a user (the token is printed once)')
  .requiredOption('--email <email>', "the key owner's email")
  .option('--name <name>', 'key name', 'cli')
  .action(async (o: { email: string; name: string }) => {
    await withServices(async (s) => {
      const { findUserByEmail } = await import('../users/users.repository.ts');
      const user = await findUserByEmail(s.db.kysely, o.email);
      if (!user) throw new AppError('NOT_FOUND', `user ${o.email} not found`);
      const { row, token } = await s.apiKeys.createPersonalFor(user.id, o.name);
      print({ id: row.id, name: row.name, key: token });
    });
  });

const projects = program.command('projects').description('manage projects (control-plane records)');
projects
  .command('create')
  .description("create a project in an organization, or (without --org) in a user's personal account")
  .requiredOption('--owner <email>', "the owner's email")
  .option('--org <org_id>', 'organization id (omit for a personal project)')
  .option('--name <name>', 'project name (default: the generated id)')
  .option('--region <region_id>', 'region, e.g. aws-us-east-2')
  .action(async (o: { owner: string; org?: string; name?: string; region?: string }) => {
    await withServices(async (s) => {
      const { findUserByEmail } = await import('../users/users.repository.ts');
      const user = await findUserByEmail(s.db.kysely, o.owner);
      if (!user) throw new AppError('NOT_FOUND', `user ${o.owner} not found`);
      if (o.org !== undefined) {
        const org = await s.db.kysely
          .selectFrom('organizations')
          .select('id')
          .where('id', '=', o.org)
          .executeTakeFirst();
        if (!org) throw new AppError('NOT_FOUND', `organization ${o.org} not found`);
        const member = await s.db.kysely
          .selectFrom('members')
          .select('id')
          .where('org_id', '=', o.org)
          .where('user_id', '=', user.id)
          .executeTakeFirst();
        // A project's owner is someone who can see it: an outsider would own a project they cannot reach.
        if (!member) {
          throw new AppError(
            'BAD_REQUEST',
            `user ${o.owner} is not a member of organization ${o.org}; add them first (npx orgplane members add --org ${o.org} --email ${o.owner})`,
          );
        }
      }
      const { project } = await s.projects.createRecord(o.org ?? null, user.id, {
        ...(o.name ? { name: o.name } : {}),
        ...(o.region ? { region_id: o.region } : {}),
      });
      print({ id: project.id, name: project.name, org_id: project.org_id, owner_id: project.owner_id });
    });
  });
projects
  .command('set-integration')
  .description(
    'record (or with --remove, delete) an integration on a project; GitHub and Vercel block transfers',
  )
  .requiredOption('--project <project_id>', 'project id')
  .addOption(
    new Option('--integration <type>', 'integration')
      .choices(['github', 'vercel', 'datadog', 'opentelemetry'])
      .makeOptionMandatory(),
  )
  .option('--remove', 'remove the integration instead of recording it', false)
  .action(async (o: { project: string; integration: string; remove: boolean }) => {
    await withServices(async (s) => {
      const integrations = await s.projects.setIntegration(o.project, o.integration, !o.remove);
      print({ id: o.project, integrations });
    });
  });

/** One line for any failure; AggregateError (e.g. ECONNREFUSED on ::1 and 127.0.0.1) has no message of its own. */
function oneLine(err: unknown): string {
  let message = err instanceof AppError || err instanceof Error ? err.message : String(err);
  if (!message && err instanceof AggregateError)
    message = err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join('; ');
  const code = (err as { code?: unknown } | null)?.code;
  if (!message) message = typeof code === 'string' ? code : 'unknown error';
  return message.replace(/\s*\n\s*/g, ' ');
}

const mail = program.command('mail').description('read the mail outbox (invitation emails)');
mail
  .command('list')
  .description('list the newest messages in the outbox, with their delivery status')
  .option('--limit <n>', 'how many', '50')
  .action(async (o: { limit: string }) => {
    await withServices(async (s) => {
      const limit = Number.parseInt(o.limit, 10);
      if (!Number.isInteger(limit) || limit < 1 || limit > 10_000) {
        throw new AppError('BAD_REQUEST', '--limit must be an integer from 1 to 10000');
      }
      const rows = await s.mail.list(limit);
      if (rows.length === 0) {
        process.stdout.write('the outbox is empty\n');
        return;
      }
      for (const r of rows) {
        const extra = r.status === 'pending' && r.attempts > 0 ? ` (attempts ${r.attempts})` : '';
        process.stdout.write(`${r.id}  ${r.created_at}  ${r.status}${extra}  ${r.recipient}  ${r.subject}\n`);
      }
    });
  });
mail
  .command('show')
  .description(
    'print one message: headers, the plain-text body (with its link) and, with --html, the HTML body',
  )
  .argument('<id>', 'message id (from `mail list`)')
  .option('--html', 'also print the HTML body')
  .action(async (id: string, o: { html?: boolean }) => {
    await withServices(async (s) => {
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
      process.stdout.write(`${lines.join('\n')}\n`);
    });
  });
mail
  .command('flush')
  .description('send every pending message now through SMTP_URL, ignoring retry delays')
  .action(async () => {
    await withServices(async (s) => {
      if (!s.mail.smtpConfigured) throw new AppError('BAD_REQUEST', 'SMTP_URL is not set');
      const n = await s.mail.drain({ ignoreBackoff: true });
      await s.mail.stop();
      const left = (await s.mail.list(10_000)).filter((r) => r.status === 'pending').length;
      process.stdout.write(`attempted ${n} message(s); ${left} still pending\n`);
    });
  });

const audit = program.command('audit').description('the audit log: verify its hash chains, export, prune');
audit
  .command('verify')
  .description("walk an organization's chain (or every chain) and report the first broken event")
  .option('--org <org_id>', 'only this organization')
  .action(async (o: { org?: string }) => {
    await withServices(async (s) => {
      let broken = 0;
      for (const chain of await s.audit.chains(o.org)) {
        const r = await s.audit.verify(chain);
        if (r.ok) {
          process.stdout.write(`${chain}: ok (${r.events} events)\n`);
        } else {
          broken++;
          process.stdout.write(
            `${chain}: BROKEN at event ${r.eventId ?? '(none)'} (seq ${r.seq}): ${r.problem}\n`,
          );
        }
      }
      if (broken > 0) throw new AppError('CONFLICT', `${broken} audit chain(s) failed verification`);
    });
  });
audit
  .command('export')
  .description('write audit events as JSON lines to stdout, oldest first per chain')
  .option('--org <org_id>', 'only this organization')
  .action(async (o: { org?: string }) => {
    await withServices(async (s) => {
      for (const chain of await s.audit.chains(o.org)) {
        for await (const e of s.audit.scan(chain)) process.stdout.write(`${JSON.stringify(e)}\n`);
      }
    });
  });
audit
  .command('prune')
  .description('remove events older than ORGPLANE_AUDIT_RETENTION_DAYS (the chains stay verifiable)')
  .option('--days <n>', 'retention in days instead of ORGPLANE_AUDIT_RETENTION_DAYS')
  .action(async (o: { days?: string }) => {
    await withServices(async (s) => {
      const days = o.days === undefined ? undefined : Number(o.days);
      if (days !== undefined && (!Number.isInteger(days) || days < 0)) {
        throw new AppError('BAD_REQUEST', '--days must be a non-negative integer');
      }
      const n = await s.audit.prune(Date.now(), days);
      process.stdout.write(`removed ${n} audit event(s)\n`);
    });
  });

export async function runCli(argv: string[]): Promise<void> {
  try {
    await program.parseAsync(argv);
  } catch (err) {
    process.stderr.write(`orgplane: ${oneLine(err)}\n`);
    process.exit(1);
  }
}

await runCli(process.argv);
