import { createRequire } from 'node:module';

/**
 * Validates a SARIF log against the SARIF 2.1.0 JSON schema. The schema comes from Microsoft's
 * @microsoft/jest-sarif package (lib/schemas/sarif-2.1.0-rtm.5.json, the schema SchemaStore
 * publishes); it is JSON Schema draft-04, hence ajv-draft-04. Compared with the OASIS errata01
 * schema (oasis-tcs/sarif-spec, sarif-2.1/schema/sarif-schema-2.1.0.json) it differs in
 * descriptions, `type` annotations beside enums, the region `anyOf`, and one `language` pattern
 * that is not a valid unicode regular expression (hence `unicodeRegExp: false`).
 * Returns the validation errors (empty when valid).
 */
const require = createRequire(import.meta.url);
let validator: ((data: unknown) => boolean) & { errors?: unknown[] | null };

export function validateSarif(log: unknown): unknown[] {
  if (!validator) {
    const Ajv = require('ajv-draft-04') as new (opts: Record<string, unknown>) => { compile(s: unknown): typeof validator };
    const addFormats = require('ajv-formats') as (ajv: unknown) => void;
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    validator = ajv.compile(require('@microsoft/jest-sarif/lib/schemas/sarif-2.1.0-rtm.5.json'));
  }
  return validator(log) ? [] : [...(validator.errors ?? [])];
}
