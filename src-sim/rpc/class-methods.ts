import { XAPI_CLASSES, type XapiClass } from '../model/classes.js';
import { refByUuid, requireObject } from '../model/lookup.js';
import { newRecord } from '../model/record-defaults.js';
import { relationsOwnedBy } from '../model/relations.js';
import type { XapiStruct, XapiValue } from '../model/values.js';
import { XapiError } from '../model/xapi-error.js';
import type { MethodRegistry, MethodSpec } from './method-registry.js';
import { argString } from './params.js';
import { coerceLike } from '../model/record-input.js';

// The methods every class has on a real host: get_all, get_all_records, get_record, get_by_uuid,
// get_by_name_label, a getter per field, and setters / map and set modifiers for the writable fields.

/** Fields a client may change (set_<field>; add_to_/remove_from_ for maps; add_/remove_ for tags). */
const WRITABLE: Partial<Record<XapiClass, readonly string[]>> = {
  VM: [
    'name_label',
    'name_description',
    'other_config',
    'tags',
    'blocked_operations',
    'xenstore_data',
    'platform',
    'HVM_boot_params',
    'VCPUs_params',
    'is_a_template',
    'affinity',
    'suspend_SR',
  ],
  VDI: [
    'name_label',
    'name_description',
    'other_config',
    'tags',
    'xenstore_data',
    'sm_config',
    'on_boot',
    'allow_caching',
    'sharable',
    'read_only',
  ],
  SR: ['name_label', 'name_description', 'other_config', 'tags', 'sm_config'],
  VBD: ['other_config', 'userdevice', 'bootable', 'mode', 'type'],
  VIF: ['other_config', 'locking_mode'],
  network: ['name_label', 'name_description', 'other_config', 'tags'],
  pool: ['name_label', 'name_description', 'other_config', 'tags', 'default_SR'],
  host: ['name_label', 'name_description', 'other_config', 'tags'],
  PBD: ['other_config'],
  PIF: ['other_config'],
  task: ['other_config'],
};

/** Computed fields that exist on the record without being stored. */
const COMPUTED_FIELDS: Partial<Record<XapiClass, readonly string[]>> = {
  SR: ['physical_utilisation', 'virtual_allocation'],
};

export function fieldNames(cls: XapiClass): string[] {
  const stored = Object.keys(newRecord(cls));
  const derived = relationsOwnedBy(cls).map((r) => r.setField);
  return [...stored, ...derived, ...(COMPUTED_FIELDS[cls] ?? [])];
}

export function registerClassMethods(registry: MethodRegistry): void {
  for (const cls of XAPI_CLASSES) {
    const fields = fieldNames(cls);
    const defaults = newRecord(cls);
    registry.defineAll(readers(cls, fields));
    for (const field of WRITABLE[cls] ?? []) registry.defineAll(writers(cls, field, defaults[field]));
  }
}

function readers(cls: XapiClass, fields: string[]): Record<string, MethodSpec> {
  const methods: Record<string, MethodSpec> = {
    [`${cls}.get_all`]: { arity: 0, run: ({ state }) => state.store.refs(cls) },
    [`${cls}.get_all_records`]: {
      arity: 0,
      run: ({ state }) => {
        const out: Record<string, XapiValue> = {};
        for (const ref of state.store.refs(cls)) out[ref] = state.store.record(cls, ref)!;
        return out;
      },
    },
    [`${cls}.get_record`]: { arity: 1, run: ({ state }, [ref]) => record(state.store, cls, argString(ref, 'self')) },
    [`${cls}.get_by_uuid`]: {
      arity: 1,
      run: ({ state }, [uuid]) => refByUuid(state.store, cls, argString(uuid, 'uuid')),
    },
  };
  if (fields.includes('name_label')) {
    methods[`${cls}.get_by_name_label`] = {
      arity: 1,
      run: ({ state }, [label]) => {
        const wanted = argString(label, 'label');
        return state.store.find(cls, (f) => f['name_label'] === wanted);
      },
    };
  }
  for (const field of fields) {
    methods[`${cls}.get_${field}`] = {
      arity: 1,
      run: ({ state }, [ref]) => record(state.store, cls, argString(ref, 'self'))[field]!,
    };
  }
  return methods;
}

function record(store: Parameters<typeof requireObject>[0], cls: XapiClass, ref: string): XapiStruct {
  requireObject(store, cls, ref);
  return store.record(cls, ref)!;
}

function writers(cls: XapiClass, field: string, sample: XapiValue | undefined): Record<string, MethodSpec> {
  const methods: Record<string, MethodSpec> = {
    [`${cls}.set_${field}`]: {
      arity: 2,
      run: ({ state }, [ref, value]) => {
        const self = argString(ref, 'self');
        requireObject(state.store, cls, self);
        state.store.update(cls, self, { [field]: coerceLike(sample, value, field) });
        return '';
      },
    },
  };
  const isMap = sample !== null && typeof sample === 'object' && !Array.isArray(sample) && !(sample instanceof Date);
  if (isMap) {
    methods[`${cls}.add_to_${field}`] = {
      arity: 3,
      run: ({ state }, [ref, key, value]) => {
        const self = argString(ref, 'self');
        const k = argString(key, 'key');
        const map = requireObject(state.store, cls, self)[field] as Record<string, string>;
        if (k in map) throw new XapiError('MAP_DUPLICATE_KEY', [cls, field, self, k]);
        state.store.update(cls, self, { [field]: { ...map, [k]: argString(value, 'value') } });
        return '';
      },
    };
    methods[`${cls}.remove_from_${field}`] = {
      arity: 2,
      run: ({ state }, [ref, key]) => {
        const self = argString(ref, 'self');
        const k = argString(key, 'key');
        const map = { ...(requireObject(state.store, cls, self)[field] as Record<string, string>) };
        if (k in map) {
          delete map[k];
          state.store.update(cls, self, { [field]: map });
        }
        return '';
      },
    };
  }
  if (field === 'tags') {
    methods[`${cls}.add_tags`] = {
      arity: 2,
      run: ({ state }, [ref, tag]) => {
        const self = argString(ref, 'self');
        const tags = requireObject(state.store, cls, self)['tags'] as string[];
        const t = argString(tag, 'value');
        if (!tags.includes(t)) state.store.update(cls, self, { tags: [...tags, t] });
        return '';
      },
    };
    methods[`${cls}.remove_tags`] = {
      arity: 2,
      run: ({ state }, [ref, tag]) => {
        const self = argString(ref, 'self');
        const tags = requireObject(state.store, cls, self)['tags'] as string[];
        const t = argString(tag, 'value');
        if (tags.includes(t)) state.store.update(cls, self, { tags: tags.filter((x) => x !== t) });
        return '';
      },
    };
  }
  return methods;
}
