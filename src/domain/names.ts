// Limits on the names people type into join and sign-up pages.
export const NAME_MAX = 100;
