// Neon's billing plans and the project limit each allows.
export type Plan = 'free' | 'launch' | 'scale' | 'business' | 'enterprise';
export const PLANS: readonly Plan[] = ['free', 'launch', 'scale', 'business', 'enterprise'];

/** The project limit of a plan; an unknown plan gets the free plan's. */
export function planLimit(limits: { projectLimits: Record<Plan, number> }, plan: string): number {
  return limits.projectLimits[plan as Plan] ?? limits.projectLimits.free;
}
