/**
 * The object types, properties and default property lists of the HubSpot sandbox, and the per-property
 * write validation. Property values travel as strings, as in HubSpot's CRM v3 API.
 */

export const HUBSPOT_OBJECT_TYPES = ['contacts', 'companies', 'deals'] as const;
export type HubSpotObjectType = (typeof HUBSPOT_OBJECT_TYPES)[number];

/** HubSpot's numeric object type ids, accepted in paths instead of the names. */
export const OBJECT_TYPE_IDS: Readonly<Record<string, HubSpotObjectType>> = {
  '0-1': 'contacts',
  '0-2': 'companies',
  '0-3': 'deals',
};

export type PropertyType = 'string' | 'number' | 'datetime' | 'enumeration';

export interface PropertyDefinition {
  type: PropertyType;
  /** "hasUniqueValue": usable as an upsert `idProperty`; a second record with the same value is a conflict. */
  unique?: boolean;
  /** Set by HubSpot only; a write is a validation error. */
  readOnly?: boolean;
  /** For enumerations. */
  options?: readonly string[];
}

export interface ObjectSchema {
  type: HubSpotObjectType;
  /** Singular label used in messages ("Contact already exists"). */
  label: string;
  /** `lastmodifieddate` for contacts, `hs_lastmodifieddate` otherwise. */
  lastModifiedProperty: string;
  properties: Map<string, PropertyDefinition>;
  /** Returned when a request names no `properties`. */
  defaultProperties: readonly string[];
  /** Always returned, whatever `properties` asks for. */
  alwaysProperties: readonly string[];
  /** Searched by the free-text `query` of a search request. */
  queryProperties: readonly string[];
}

const common = (lastModified: string): [string, PropertyDefinition][] => [
  ['hs_object_id', { type: 'number', readOnly: true }],
  ['createdate', { type: 'datetime', readOnly: true }],
  [lastModified, { type: 'datetime', readOnly: true }],
  // A custom property with "hasUniqueValue", the natural external-id key for upserts from otesse.
  ['otesse_id', { type: 'string', unique: true }],
];

const LIFECYCLE = ['subscriber', 'lead', 'marketingqualifiedlead', 'salesqualifiedlead', 'opportunity', 'customer'];
const DEAL_STAGES = ['appointmentscheduled', 'qualifiedtobuy', 'presentationscheduled', 'closedwon', 'closedlost'];

/** Builds the schemas, with extra (custom) properties per type. */
export function buildSchemas(
  custom: Partial<Record<HubSpotObjectType, Record<string, PropertyDefinition>>> = {},
): Record<HubSpotObjectType, ObjectSchema> {
  const make = (
    type: HubSpotObjectType,
    label: string,
    lastModifiedProperty: string,
    own: [string, PropertyDefinition][],
    defaults: string[],
    query: string[],
  ): ObjectSchema => {
    const properties = new Map<string, PropertyDefinition>([...common(lastModifiedProperty), ...own]);
    for (const [name, def] of Object.entries(custom[type] ?? {})) properties.set(name, def);
    return {
      type,
      label,
      lastModifiedProperty,
      properties,
      defaultProperties: defaults,
      alwaysProperties: ['createdate', 'hs_object_id', lastModifiedProperty],
      queryProperties: query,
    };
  };
  return {
    contacts: make(
      'contacts',
      'Contact',
      'lastmodifieddate',
      [
        ['email', { type: 'string', unique: true }],
        ['firstname', { type: 'string' }],
        ['lastname', { type: 'string' }],
        ['phone', { type: 'string' }],
        ['company', { type: 'string' }],
        ['lifecyclestage', { type: 'enumeration', options: LIFECYCLE }],
      ],
      ['createdate', 'email', 'firstname', 'hs_object_id', 'lastmodifieddate', 'lastname'],
      ['email', 'firstname', 'lastname', 'phone', 'company'],
    ),
    companies: make(
      'companies',
      'Company',
      'hs_lastmodifieddate',
      [
        ['name', { type: 'string' }],
        ['domain', { type: 'string' }],
        ['industry', { type: 'string' }],
        ['phone', { type: 'string' }],
        ['city', { type: 'string' }],
      ],
      ['createdate', 'domain', 'hs_lastmodifieddate', 'hs_object_id', 'name'],
      ['name', 'domain', 'phone'],
    ),
    deals: make(
      'deals',
      'Deal',
      'hs_lastmodifieddate',
      [
        ['dealname', { type: 'string' }],
        ['amount', { type: 'number' }],
        ['dealstage', { type: 'enumeration', options: DEAL_STAGES }],
        ['pipeline', { type: 'string' }],
        ['closedate', { type: 'datetime' }],
      ],
      ['amount', 'closedate', 'createdate', 'dealname', 'dealstage', 'hs_lastmodifieddate', 'hs_object_id', 'pipeline'],
      ['dealname'],
    ),
  };
}

/** One rejected property value, in HubSpot's "Property values were not valid" list. */
export interface PropertyIssue {
  name: string;
  error: string;
  message: string;
}

/** Parses a datetime value as HubSpot accepts it: epoch milliseconds or an ISO 8601 string. */
export function parseDateValue(value: string | number): number {
  if (typeof value === 'number') return value;
  if (/^-?\d+$/.test(value.trim())) return Number(value);
  return Date.parse(value);
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * Normalises and checks the properties of one write. Returns the values to store (null clears a value)
 * and the issues; the write is rejected when there is any issue.
 */
export function validateProperties(
  schema: ObjectSchema,
  input: unknown,
): { values: Record<string, string | null>; issues: PropertyIssue[] } {
  const values: Record<string, string | null> = {};
  const issues: PropertyIssue[] = [];
  if (input === undefined || input === null) return { values, issues };
  if (typeof input !== 'object' || Array.isArray(input)) {
    issues.push({ name: 'properties', error: 'INVALID_INPUT', message: 'properties must be an object' });
    return { values, issues };
  }
  for (const [name, raw] of Object.entries(input as Record<string, unknown>)) {
    const def = schema.properties.get(name);
    if (!def) {
      issues.push({ name, error: 'PROPERTY_DOESNT_EXIST', message: `Property "${name}" does not exist` });
      continue;
    }
    if (def.readOnly) {
      issues.push({
        name,
        error: 'READ_ONLY_VALUE',
        message: `"${name}" is a read only property; its value cannot be set.`,
      });
      continue;
    }
    if (raw === null || raw === '') {
      values[name] = null;
      continue;
    }
    if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
      issues.push({ name, error: 'INVALID_INPUT', message: `${name} must be a string, number or boolean` });
      continue;
    }
    let value = String(raw);
    if (name === 'email') {
      value = value.trim().toLowerCase();
      if (!EMAIL.test(value)) {
        issues.push({ name, error: 'INVALID_EMAIL', message: `Email address ${String(raw)} is invalid` });
        continue;
      }
    }
    if (def.type === 'number' && !Number.isFinite(Number(value))) {
      issues.push({ name, error: 'INVALID_DECIMAL', message: `${value} was not a valid number.` });
      continue;
    }
    if (def.type === 'datetime') {
      const ms = parseDateValue(value);
      if (!Number.isFinite(ms)) {
        issues.push({ name, error: 'INVALID_DATE', message: `${value} is not a valid datetime.` });
        continue;
      }
      value = new Date(ms).toISOString();
    }
    if (def.type === 'enumeration' && def.options && !def.options.includes(value)) {
      issues.push({
        name,
        error: 'INVALID_OPTION',
        message: `${value} was not one of the allowed options: [${def.options.join(', ')}]`,
      });
      continue;
    }
    values[name] = value;
  }
  return { values, issues };
}

/** HubSpot's message for a list of property issues. */
export function issuesMessage(issues: readonly PropertyIssue[]): string {
  const list = issues.map((i) => ({ isValid: false, message: i.message, error: i.error, name: i.name }));
  return `Property values were not valid: ${JSON.stringify(list)}`;
}
