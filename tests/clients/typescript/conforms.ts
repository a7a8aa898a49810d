// Checks runtime values against the JSON schemas that @hey-api/schemas
// generated from openapi/openapi.json (generated/schemas.gen.ts), so that
// what the typed client hands out is what its types say: every required
// property present, no property the schema lacks, each value of the
// declared type (null only where allowed, date-times that parse, integers,
// enums), through $refs, arrays, oneOf, anyOf and allOf (whose parts are
// taken together as one object: a property of any part is known).

import * as schemas from './generated/schemas.gen';

type Schema = {
  readonly type?: string | readonly string[];
  readonly format?: string;
  readonly required?: readonly string[];
  readonly properties?: { readonly [name: string]: Schema };
  readonly items?: Schema;
  readonly $ref?: string;
  readonly oneOf?: readonly Schema[];
  readonly anyOf?: readonly Schema[];
  readonly allOf?: readonly Schema[];
  readonly enum?: readonly unknown[];
  readonly minimum?: number;
};

const byName = new Map<string, Schema>(
  Object.entries(schemas).map(([name, schema]) => [name.replace(/Schema$/, ''), schema as Schema]),
);

// For each `Schema.property` that the document marks optional: how often it
// was seen present and absent, to spot optional fields that are always sent.
export const optionalSeen = new Map<string, { present: number; absent: number }>();

export function schemaNamed(name: string): Schema {
  const schema = byName.get(name);
  if (!schema) throw new Error(`no generated schema ${name}`);
  return schema;
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/** The parts of an allOf as one object schema: their properties and required names together. */
function merged(parts: readonly Schema[]): Schema {
  const properties: { [name: string]: Schema } = {};
  const required: string[] = [];
  for (const part of parts) {
    const schema = part.$ref ? schemaNamed(part.$ref.replace('#/components/schemas/', '')) : part;
    if (schema.type !== 'object' || schema.allOf || schema.oneOf || schema.anyOf) {
      throw new Error(`an allOf part that is not a plain object schema: ${JSON.stringify(part)}`);
    }
    Object.assign(properties, schema.properties);
    required.push(...(schema.required ?? []));
  }
  return { type: 'object', properties, required };
}

/** The ways `value` breaks `schema` (named `where` in messages); empty when it conforms. */
export function violations(value: unknown, schema: Schema, where: string, name = ''): string[] {
  if (schema.$ref) {
    const target = schema.$ref.replace('#/components/schemas/', '');
    return violations(value, schemaNamed(target), where, target);
  }
  if (schema.oneOf) {
    const matching = schema.oneOf.filter((s) => violations(value, s, where).length === 0);
    return matching.length === 1 ? [] : [`${where}: matches ${matching.length} of oneOf, not 1`];
  }
  if (schema.anyOf) {
    const matching = schema.anyOf.filter((s) => violations(value, s, where).length === 0);
    return matching.length > 0 ? [] : [`${where}: matches none of anyOf`];
  }
  if (schema.allOf) return violations(value, merged(schema.allOf), where, name);
  const problems: string[] = [];
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const allowed = typeof schema.type === 'string' ? [schema.type] : schema.type;
    const ok = allowed.includes(actual) || (actual === 'integer' && allowed.includes('number'));
    if (!ok) return [`${where}: ${actual}, not ${allowed.join(' | ')}`];
  }
  if (schema.enum && !schema.enum.includes(value)) problems.push(`${where}: ${String(value)} not in enum`);
  if (typeof value === 'number' && schema.minimum !== undefined && value < schema.minimum) {
    problems.push(`${where}: ${value} < ${schema.minimum}`);
  }
  if (typeof value === 'string' && schema.format === 'date-time') {
    if (!/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/.test(value) || Number.isNaN(Date.parse(value))) {
      problems.push(`${where}: ${value} is not an RFC 3339 date-time`);
    }
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => problems.push(...violations(item, schema.items as Schema, `${where}[${i}]`)));
  }
  if (actual === 'object' && schema.properties) {
    const object = value as Record<string, unknown>;
    const properties = schema.properties;
    for (const key of schema.required ?? []) {
      if (!(key in object)) problems.push(`${where}.${key}: required, missing`);
    }
    for (const [key, item] of Object.entries(object)) {
      const property = properties[key];
      if (!property) problems.push(`${where}.${key}: not in the schema`);
      else problems.push(...violations(item, property, `${where}.${key}`));
    }
    if (name) {
      for (const key of Object.keys(properties)) {
        if (schema.required?.includes(key)) continue;
        const seen = optionalSeen.get(`${name}.${key}`) ?? { present: 0, absent: 0 };
        if (key in object) seen.present++;
        else seen.absent++;
        optionalSeen.set(`${name}.${key}`, seen);
      }
    }
  }
  return problems;
}

/** Throws unless `value` conforms to the generated schema `name`; returns it. */
export function conforms<T>(value: T, name: string): T {
  const problems = violations(value, schemaNamed(name), name, name);
  if (problems.length > 0) {
    throw new Error(`${name} does not conform to its schema:\n  ${problems.join('\n  ')}\n${JSON.stringify(value)}`);
  }
  return value;
}
