import { Type } from 'typebox';
import { UuidSchema } from '../http/common-schemas.ts';

export const AuthDetailsSchema = Type.Object({
  account_id: Type.String(),
  auth_method: Type.Union([
    Type.Literal('keycloak'),
    Type.Literal('session_cookie'),
    Type.Literal('api_key_user'),
    Type.Literal('api_key_org'),
    Type.Literal('oauth'),
  ]),
  auth_data: Type.Optional(Type.String()),
});

export const CurrentUserInfoSchema = Type.Object({
  active_seconds_limit: Type.Integer(),
  auth_accounts: Type.Array(
    Type.Object({
      email: Type.String(),
      image: Type.String(),
      login: Type.String(),
      name: Type.String(),
      provider: Type.String(),
    }),
  ),
  email: Type.String(),
  id: UuidSchema,
  image: Type.String(),
  login: Type.String(),
  name: Type.String(),
  last_name: Type.String(),
  projects_limit: Type.Integer(),
  branches_limit: Type.Integer(),
  max_autoscaling_limit: Type.Number(),
  compute_seconds_limit: Type.Optional(Type.Integer()),
  plan: Type.String(),
});
