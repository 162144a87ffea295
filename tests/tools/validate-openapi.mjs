#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Checks that a document is valid OpenAPI 3.1: what /openapi.json must be.
//
//   node tests/tools/validate-openapi.mjs URL_OR_FILE [--spec-only] [--quiet]
//
// Exit 0 when valid (one summary line), 1 with every error listed when not,
// 2 on bad usage. The document must be JSON (a file path or an http(s) URL).
//
// The checks, each error tagged with where it comes from:
//   [openapi]   `openapi` is 3.1.x (3.0 and Swagger 2.0 are refused);
//   [spec]      @readme/openapi-parser: the OpenAPI 3.1 JSON Schema, $refs that
//               resolve, and the rules the schema cannot say (path template
//               parameters declared, required and unique; operationIds unique);
//               plus templated paths that differ only in parameter names;
//   [schema]    each Schema Object against the JSON Schema 2020-12 meta-schema
//               (the OpenAPI 3.1 schema does not look inside them): catches
//               `"type": "strnig"`, a `required` that is not a list...;
//   [awaitress] rules of this project, off with --spec-only: every operation
//               declares its responses (optional in 3.1, always generated here).
//
// Modules come from web/node_modules (scripts/install-web-deps.sh).
import { createRequire } from 'node:module';
import { readFile } from 'node:fs/promises';

const require = createRequire(new URL('../../web/package.json', import.meta.url));

function usage(msg) {
    if (msg) console.error(`validate-openapi: ${msg}`);
    console.error('usage: node tests/tools/validate-openapi.mjs URL_OR_FILE [--spec-only] [--quiet]');
    process.exit(2);
}

function loadModules() {
    try {
        const parser = require('@readme/openapi-parser');
        const Ajv2020 = require('ajv/dist/2020');
        return { parser, Ajv2020: Ajv2020.default || Ajv2020 };
    } catch (e) {
        console.error(`validate-openapi: ${e.message}\nrun scripts/install-web-deps.sh first`);
        process.exit(2);
    }
}

async function load(source) {
    let text;
    if (/^https?:\/\//i.test(source)) {
        let res;
        try {
            res = await fetch(source, { signal: AbortSignal.timeout(15000), redirect: 'follow' });
        } catch (e) {
            throw new Error(`fetching ${source}: ${e.cause ? e.cause.message || e.cause : e.message}`);
        }
        if (res.status !== 200) throw new Error(`fetching ${source}: HTTP ${res.status}`);
        const type = res.headers.get('content-type') || '';
        if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type))
            throw new Error(`fetching ${source}: Content-Type is "${type}", not application/json`);
        text = await res.text();
    } else {
        text = await readFile(source, 'utf8');
    }
    try {
        return JSON.parse(text);
    } catch (e) {
        throw new Error(`${source} is not JSON: ${e.message}`);
    }
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function* operations(doc) {
    for (const [path, item] of Object.entries(doc.paths || {})) {
        if (!item || typeof item !== 'object') continue;
        for (const m of METHODS) if (item[m] && typeof item[m] === 'object') yield [path, m, item[m]];
    }
}

// "Templated paths with the same hierarchy but different templated names
// MUST NOT exist as they are identical" (OpenAPI 3.1, Paths Object).
function checkPathTemplates(doc, errors) {
    const seen = new Map();
    for (const path of Object.keys(doc.paths || {})) {
        const shape = path.replace(/\{[^}]*\}/g, '{}');
        if (seen.has(shape)) errors.push(`[spec] paths "${seen.get(shape)}" and "${path}" are the same template`);
        else seen.set(shape, path);
    }
}

const pointer = (parts) => '#/' + parts.map((p) => String(p).replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

// Every Schema Object outside other schemas: components.schemas and each
// `schema` field; the meta-schema then checks the schemas nested in them.
function checkSchemas(doc, Ajv2020, errors) {
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const meta = ajv.getSchema('https://json-schema.org/draft/2020-12/schema');
    const dialect = doc.jsonSchemaDialect;
    const check = (schema, parts) => {
        if (typeof schema === 'boolean') return;
        if (!schema || typeof schema !== 'object' || Array.isArray(schema)) {
            errors.push(`[schema] ${pointer(parts)}: a Schema Object must be an object or a boolean`);
            return;
        }
        // Only the default dialects are known here.
        const own = schema.$schema || dialect;
        if (own && !/json-schema\.org\/draft\/2020-12\/schema|spec\.openapis\.org\/oas\/3\.1\/dialect/.test(own)) return;
        if (meta(schema)) return;
        // One message per place: the first is the telling one (an enum's
        // allowed values), the rest are the anyOf branches it failed.
        const places = new Set();
        for (const e of meta.errors) {
            const where = pointer(parts) + (e.instancePath ? e.instancePath : '');
            if (places.has(where)) continue;
            places.add(where);
            const extra = e.params && e.params.allowedValues ? ` (${e.params.allowedValues.join(', ')})` : '';
            errors.push(`[schema] ${where}: ${e.message}${extra}`);
        }
    };
    const walk = (node, parts) => {
        if (!node || typeof node !== 'object') return;
        for (const [k, v] of Object.entries(node)) {
            if (k.startsWith('x-') || k === 'example' || k === 'examples') continue;
            if (k === 'schema' && !Array.isArray(node)) check(v, [...parts, k]);
            else walk(v, [...parts, k]);
        }
    };
    const comps = (doc.components && doc.components.schemas) || {};
    for (const [name, s] of Object.entries(comps)) check(s, ['components', 'schemas', name]);
    const { components, ...rest } = doc;
    walk(rest, []);
    if (components) {
        const { schemas, ...others } = components;
        walk(others, ['components']);
    }
}

function checkProjectRules(doc, errors) {
    for (const [path, method, op] of operations(doc)) {
        const r = op.responses;
        if (!r || typeof r !== 'object' || Object.keys(r).length === 0)
            errors.push(`[awaitress] ${method.toUpperCase()} ${path}: no responses declared`);
    }
}

async function main() {
    const args = process.argv.slice(2);
    const flags = new Set(args.filter((a) => a.startsWith('--')));
    const sources = args.filter((a) => !a.startsWith('--'));
    for (const f of flags) if (!['--spec-only', '--quiet', '--help'].includes(f)) usage(`unknown option ${f}`);
    if (flags.has('--help')) usage();
    if (sources.length !== 1) usage('one URL or file expected');
    const source = sources[0];
    const { parser, Ajv2020 } = loadModules();

    let doc;
    try {
        doc = await load(source);
    } catch (e) {
        console.error(`validate-openapi: ${e.message}`);
        return 1;
    }
    const errors = [];
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
        errors.push('[openapi] the document is not a JSON object');
    } else if (typeof doc.openapi !== 'string' || !/^3\.1\.\d+$/.test(doc.openapi)) {
        errors.push(`[openapi] "openapi" is ${JSON.stringify(doc.openapi)}, not 3.1.x`);
    } else {
        // The parser dereferences in place: give it a copy.
        const result = await parser.validate(structuredClone(doc));
        if (!result.valid) for (const e of result.errors) errors.push(`[spec] ${e.message}`);
        for (const w of result.warnings || []) console.error(`warning: ${w.message}`);
        checkPathTemplates(doc, errors);
        checkSchemas(doc, Ajv2020, errors);
        if (!flags.has('--spec-only')) checkProjectRules(doc, errors);
    }

    if (errors.length) {
        console.log(`${source}: INVALID, ${errors.length} error(s)`);
        for (const e of errors) console.log(`- ${e.replace(/\n/g, '\n  ')}`);
        return 1;
    }
    if (!flags.has('--quiet')) {
        const ops = [...operations(doc)].length;
        const paths = Object.keys(doc.paths || {}).length;
        console.log(`${source}: valid OpenAPI ${doc.openapi} (${doc.info.title} ${doc.info.version}): ` +
                    `${paths} path(s), ${ops} operation(s)`);
    }
    return 0;
}

process.exitCode = await main();
