// Hooks only on the routes that need them: the HTTP plumbing attaches its hooks to a route when
// the route is registered (an onRoute hook reading the route's method and config) instead of
// running a global hook on every request that then does nothing. A read without a body never
// meets the body guard, the idempotency store, the audit denial hook or the access-change report.
import type { FastifyInstance, RouteOptions } from 'fastify';

type HookName = 'onRequest' | 'preValidation' | 'preHandler' | 'onSend';
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- Fastify's hook signatures differ per name
type AnyHook = (...args: any[]) => unknown;

const INSERTED = Symbol('orgplane.routeHooksInserted');
type Marked = RouteOptions & { [INSERTED]?: Partial<Record<HookName, number>> };

/**
 * Adds hook to the route, after the plumbing's earlier ones and before the route's own (the
 * order they had as global hooks of the enclosing scopes).
 */
function insert(route: Marked, name: HookName, hook: AnyHook): void {
  const own = route[name] as AnyHook | AnyHook[] | undefined;
  const list: AnyHook[] = own === undefined ? [] : Array.isArray(own) ? [...own] : [own];
  const counts = (route[INSERTED] ??= {});
  const at = counts[name] ?? 0;
  list.splice(at, 0, hook);
  counts[name] = at + 1;
  (route as unknown as Record<string, unknown>)[name] = list;
}

/**
 * For every route registered from now on in this scope (and the scopes inside it): when
 * `applies(method, route)`, the hooks are added to it.
 */
export function hooksForRoutes(
  scope: FastifyInstance,
  applies: (method: string, route: RouteOptions) => boolean,
  hooks: Partial<Record<HookName, AnyHook>>,
): void {
  scope.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!methods.some((m) => applies(m.toUpperCase(), route))) return;
    for (const [name, hook] of Object.entries(hooks) as [HookName, AnyHook][]) insert(route, name, hook);
  });
}
