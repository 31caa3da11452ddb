// Hot write paths that stay cheap however much an organization has done.
// invitation_sends: invitation emails an organization sent, per minute, kept up to date in the
// transaction that queues them; the hourly limit sums at most 60 rows of it instead of counting
// the mail outbox, which grows with every invitation ever sent.
// PostgreSQL: orgplane_set_member_role() changes a member's role under the organization's lock in
// one round trip (one statement, its own transaction; each statement inside reads what was
// committed before it, so the reads after the lock see what the lock holder wrote).
import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../connect.ts';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- migrations run against the untyped schema of their time
export async function up(db: Kysely<any>, dialect: Dialect): Promise<void> {
  await db.schema
    .createTable('invitation_sends')
    .addColumn('org_id', 'text', (c) => c.notNull().references('organizations.id').onDelete('cascade'))
    // 'YYYY-MM-DDTHH:MM' (UTC): the minute the emails were queued in.
    .addColumn('minute', 'text', (c) => c.notNull())
    .addColumn('n', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('invitation_sends_pk', ['org_id', 'minute'])
    .execute();
  // The last hour's invitation emails, so the limit holds across the upgrade.
  const since = new Date(Date.now() - 3600_000).toISOString();
  await sql`
    insert into invitation_sends (org_id, minute, n)
    select org_id, substr(created_at, 1, 16), count(*) from mail_outbox
    where org_id is not null and kind like 'invitation%' and created_at > ${since}
      and org_id in (select id from organizations)
    group by org_id, substr(created_at, 1, 16)`.execute(db);

  if (dialect !== 'postgres') return;
  await sql`
    create function orgplane_set_member_role(
      p_org text, p_caller text, p_member text, p_role text, p_allowed text[]
    ) returns table (outcome text, caller_role text, id text, user_id text, org_id text, role text, email text, joined_at text)
    language plpgsql as $$
    declare
      r text;
      m members%rowtype;
    begin
      update organizations set updated_at = organizations.updated_at where organizations.id = p_org;
      if p_caller is not null then
        select members.role into r from members where members.org_id = p_org and members.user_id = p_caller;
        if not (coalesce(r, '') = any (p_allowed)) then
          return query select 'denied'::text, r, null::text, null::text, null::text, null::text, null::text, null::text;
          return;
        end if;
      end if;
      select * into m from members where members.org_id = p_org and members.id = p_member;
      if not found then
        return query select 'not_found'::text, r, null::text, null::text, null::text, null::text, null::text, null::text;
        return;
      end if;
      if m.role = p_role then
        return query select 'unchanged'::text, r, m.id, m.user_id, m.org_id, m.role, m.email, m.joined_at;
        return;
      end if;
      if m.role = 'admin'
         and (select count(*) from members where members.org_id = p_org and members.role = 'admin') <= 1 then
        return query select 'last_admin'::text, r, null::text, null::text, null::text, null::text, null::text, null::text;
        return;
      end if;
      update members set role = p_role where members.id = p_member;
      return query select 'updated'::text, r, m.id, m.user_id, m.org_id, p_role, m.email, m.joined_at;
    end $$`.execute(db);
}
