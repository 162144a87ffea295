#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Opens an app's Swagger UI in headless Chromium and checks that it really works.
//
//   node tests/tools/docs-browser.mjs BASE_URL [--docs-path /docs]
//        [--expect 'GET /items/{item_id}']...
//        [--try 'GET /items/{item_id}' [--param item_id=5]... [--body '{"a":1}']
//         [--try-status 200]]...
//        [--timeout 60] [--screenshot out.png]
//
// It loads BASE_URL/docs, waits until Swagger UI has rendered the document's
// operations, and checks that each --expect operation is listed. For each
// --try it expands that operation, clicks "Try it out", fills the --param
// values and the --body that follow it, clicks "Execute" and waits for the
// live response's status (--try-status, default 200). It also fails if the
// page fetched anything from another origin (the assets must be the
// server's own), if a request of the page failed or got a 4xx/5xx that no
// --try asked for, or if the page threw. Prints what it saw; exits 0 when
// every check passed, 1 otherwise, 2 on bad usage. Everything is bounded by
// --timeout seconds (default 60).
//
// Chromium is Debian's (/usr/bin/chromium, or $AW_CHROMIUM), driven through
// playwright-core from web/node_modules (scripts/install-web-deps.sh), with
// a fresh temporary profile and no background networking.
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(new URL('../../web/package.json', import.meta.url));

const CHROMIUM_ARGS = [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
];

function usage(msg) {
    if (msg) console.error(`docs-browser: ${msg}`);
    console.error(
        "usage: node tests/tools/docs-browser.mjs BASE_URL [--docs-path /docs] [--expect 'GET /path']...\n" +
        "         [--try 'METHOD /path' [--param name=value]... [--body JSON] [--try-status 200]]...\n" +
        '         [--timeout 60] [--screenshot file.png]');
    process.exit(2);
}

function parseArgs(argv) {
    const o = { base: null, docsPath: '/docs', expect: [], tries: [], timeout: 60, screenshot: null };
    const opKey = (s) => {
        const m = /^\s*([A-Za-z]+)\s+(\S+)\s*$/.exec(s || '');
        if (!m) usage(`"${s}" is not "METHOD /path"`);
        return `${m[1].toUpperCase()} ${m[2]}`;
    };
    for (let i = 0; i < argv.length; i++) {
        const a = argv[i];
        const value = () => {
            if (i + 1 >= argv.length) usage(`${a} needs a value`);
            return argv[++i];
        };
        const lastTry = () => {
            if (!o.tries.length) usage(`${a} must follow a --try`);
            return o.tries[o.tries.length - 1];
        };
        if (a === '--expect') o.expect.push(opKey(value()));
        else if (a === '--try') o.tries.push({ op: opKey(value()), status: 200, params: [], body: null });
        else if (a === '--try-status') {
            const s = Number(value());
            if (!Number.isInteger(s) || s < 100 || s > 599) usage('--try-status takes an HTTP status');
            lastTry().status = s;
        } else if (a === '--param') {
            const v = value(), eq = v.indexOf('=');
            if (eq < 1) usage('--param takes name=value');
            lastTry().params.push([v.slice(0, eq), v.slice(eq + 1)]);
        } else if (a === '--body') lastTry().body = value();
        else if (a === '--docs-path') o.docsPath = value();
        else if (a === '--timeout') o.timeout = Number(value());
        else if (a === '--screenshot') o.screenshot = value();
        else if (a === '--help' || a === '-h') usage();
        else if (a.startsWith('--')) usage(`unknown option ${a}`);
        else if (!o.base) o.base = a;
        else usage(`unexpected argument ${a}`);
    }
    if (!o.base || !/^https?:\/\//.test(o.base)) usage('BASE_URL (http://host:port) expected');
    if (!(o.timeout > 0)) usage('--timeout takes seconds');
    return o;
}

// Swagger UI breaks long paths with zero-width spaces; the data-path attribute has none.
const clean = (s) => (s || '').replace(/[\u200b\s]+/g, ' ').trim();

async function main() {
    const o = parseArgs(process.argv.slice(2));
    const deadline = Date.now() + o.timeout * 1000;
    const left = () => Math.max(1, deadline - Date.now());
    // A last resort: whatever hangs, the process ends.
    const killer = setTimeout(() => {
        console.log(`FAIL: gave up after ${o.timeout} s`);
        process.exit(1);
    }, o.timeout * 1000 + 5000);
    killer.unref();

    let chromium;
    try {
        ({ chromium } = require('playwright-core'));
    } catch (e) {
        console.error(`docs-browser: ${e.message}\nrun scripts/install-web-deps.sh first`);
        return 2;
    }
    const exe = process.env.AW_CHROMIUM || '/usr/bin/chromium';
    if (!existsSync(exe)) {
        console.error(`docs-browser: no Chromium at ${exe}: install Debian's chromium (scripts/install-deps.sh)`);
        return 2;
    }

    const base = o.base.replace(/\/+$/, '');
    const origin = new URL(base).origin;
    const docsUrl = base + o.docsPath;
    const failures = [];
    const fail = (msg) => {
        failures.push(msg);
        console.log(`FAIL: ${msg}`);
    };

    const profile = mkdtempSync(join(tmpdir(), 'aw-docs-browser-'));
    let context;
    try {
        const t0 = Date.now();
        context = await chromium.launchPersistentContext(profile, {
            executablePath: exe,
            headless: true,
            args: CHROMIUM_ARGS,
            timeout: left(),
            viewport: { width: 1280, height: 900 },
        });
        const page = context.pages()[0] || (await context.newPage());
        page.setDefaultTimeout(left());
        console.log(`chromium ${context.browser() ? context.browser().version() : ''} started in ${Date.now() - t0} ms`);

        // What the page does, for the checks and the report.
        const foreign = [], pageErrors = [], badResponses = [];
        let trying = false;
        page.on('request', (r) => {
            const u = r.url();
            if (/^https?:/.test(u) && new URL(u).origin !== origin) foreign.push(u);
        });
        page.on('requestfailed', (r) => {
            if (!trying) badResponses.push(`${r.method()} ${r.url()}: ${r.failure() ? r.failure().errorText : 'failed'}`);
        });
        page.on('response', (r) => {
            if (!trying && r.status() >= 400) badResponses.push(`${r.request().method()} ${r.url()}: ${r.status()}`);
        });
        page.on('pageerror', (e) => pageErrors.push(e.message));
        page.on('console', (m) => {
            // Failed loads are reported by the request listeners above, which know the --try ones.
            if (m.type() === 'error' && !m.text().startsWith('Failed to load resource'))
                pageErrors.push(`console: ${m.text()}`);
        });

        const res = await page.goto(docsUrl, { waitUntil: 'domcontentloaded', timeout: left() });
        console.log(`GET ${docsUrl}: ${res ? res.status() : 'no response'}`);
        if (!res || res.status() !== 200)
            throw new Error(`${docsUrl} answered ${res ? res.status() : 'nothing'}`);
        // Rendered: the title of the document's info, or Swagger UI's error box.
        await page.waitForSelector('.swagger-ui .info .title, .swagger-ui .errors-wrapper, .swagger-ui .loading-container .info',
                                   { timeout: left() });
        const errorsBox = await page.$('.swagger-ui .errors-wrapper');
        if (errorsBox) fail(`Swagger UI reports errors: ${clean(await errorsBox.innerText()).slice(0, 500)}`);
        const title = await page.$eval('.swagger-ui .info .title', (e) => e.innerText).catch(() => null);
        console.log(`document title: ${clean(title) || '(none)'}; page title: ${await page.title()}`);

        const ops = await page.$$eval('.opblock', (blocks) => blocks.map((b) => {
            const m = b.querySelector('.opblock-summary-method');
            const p = b.querySelector('.opblock-summary-path');
            return { method: m ? m.textContent : '', path: p ? p.getAttribute('data-path') || p.textContent : '' };
        }));
        const found = ops.map((x) => `${clean(x.method).toUpperCase()} ${clean(x.path)}`);
        console.log(`operations rendered (${found.length}):`);
        for (const f of [...new Set(found)]) console.log(`  ${f}`);
        for (const e of o.expect) if (!found.includes(e)) fail(`expected operation not rendered: ${e}`);
        if (!found.length && (o.expect.length || o.tries.length)) fail('no operation rendered');

        for (const t of o.tries) {
            const i = found.indexOf(t.op);
            if (i < 0) {
                fail(`--try ${t.op}: not rendered`);
                continue;
            }
            const block = page.locator('.opblock').nth(i);
            const summary = block.locator('.opblock-summary-control, .opblock-summary').first();
            if (!(await block.evaluate((b) => b.classList.contains('is-open')))) await summary.click({ timeout: left() });
            // Already in "Try it out" mode (the same operation tried before), the button says
            // Cancel (and a body's Reset button has the same class).
            if (!(await block.locator('.try-out__btn.cancel').count()))
                await block.locator('.try-out__btn:not(.reset)').first().click({ timeout: left() });
            // A previous live response would answer the wait below: clear it.
            const clear = block.locator('button.btn-clear');
            if (await clear.count()) await clear.first().click({ timeout: left() });
            for (const [name, v] of t.params) {
                const input = block.locator(`tr[data-param-name="${name}"] input, tr[data-param-name="${name}"] select`).first();
                if (!(await input.count())) {
                    fail(`--try ${t.op}: no input for parameter ${name}`);
                    continue;
                }
                if ((await input.evaluate((e) => e.tagName)) === 'SELECT') await input.selectOption(v, { timeout: left() });
                else await input.fill(v, { timeout: left() });
            }
            if (t.body !== null) await block.locator('textarea.body-param__text').fill(t.body, { timeout: left() });
            trying = true;
            await block.locator('button.execute').click({ timeout: left() });
            // The live response, or Swagger UI refusing to send (a value its schema rejects).
            const row = block.locator('.live-responses-table tbody tr.response').first();
            const refused = block.locator('.validation-errors, .parameters .invalid, .body-param .invalid');
            await row.or(refused).first().waitFor({ timeout: left() });
            trying = false;
            if (!(await row.count())) {
                const why = clean(await refused.first().evaluate((e) => e.innerText || e.title || e.outerHTML));
                fail(`--try ${t.op}: Swagger UI did not send the request: ${why.slice(0, 300) || 'invalid input'}`);
                continue;
            }
            const got = clean(await row.locator('.response-col_status').innerText());
            const body = row.locator('.highlight-code pre');
            const detail = clean(await (await body.count() ? body : row.locator('.response-col_description'))
                .first().innerText().catch(() => '')).slice(0, 200);
            console.log(`try ${t.op}: live response ${got} (want ${t.status}): ${detail}`);
            if (got !== String(t.status)) fail(`--try ${t.op}: status ${got}, want ${t.status}`);
        }

        if (foreign.length) fail(`the page fetched from other origins: ${[...new Set(foreign)].join(', ')}`);
        if (badResponses.length) fail(`requests of the page failed: ${badResponses.join('; ')}`);
        if (pageErrors.length) fail(`errors in the page: ${pageErrors.join('; ').slice(0, 1000)}`);
        if (o.screenshot) {
            await page.screenshot({ path: o.screenshot, fullPage: true });
            console.log(`screenshot: ${o.screenshot}`);
        }
    } catch (e) {
        fail(clean(e.message).slice(0, 1000));
    } finally {
        if (context) await context.close().catch(() => {});
        rmSync(profile, { recursive: true, force: true });
    }
    console.log(failures.length ? `FAILED (${failures.length})` : 'OK');
    return failures.length ? 1 : 0;
}

process.exitCode = await main();
