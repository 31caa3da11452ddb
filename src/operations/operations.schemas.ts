// Request and response shapes of Neon's operation and region routes, as its spec defines them.
import { Type } from 'typebox';

const Operations = Type.Array(Type.Ref('Operation'));

export const OperationsQuerySchema = Type.Object({
  cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
});

export const OperationsPageSchema = Type.Object({
  operations: Operations,
  pagination: Type.Optional(Type.Object({ cursor: Type.String() })),
});
export const RegionsResponseSchema = Type.Object({
  regions: Type.Array(
    Type.Object({
      region_id: Type.String(),
      name: Type.String(),
      default: Type.Boolean(),
      geo_lat: Type.String(),
      geo_long: Type.String(),
    }),
  ),
});
