// shell.mjs BASE MAILDIR SHOTDIR: the account journeys of coopol's web app in Debian's
// Chromium (headless, driven by playwright-core), at a phone and a desk size, by
// keyboard only. Every page is checked by axe-core and photographed; what was seen is
// printed as JSON for shell_test.go.
import {chromium} from 'playwright-core';
import {readFile, readdir} from 'node:fs/promises';
import {createRequire} from 'node:module';
import path from 'node:path';

const [base, mailDir, shotDir] = process.argv.slice(2);
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const password = 'un mot de passe de sympathisant';
const result = {errors: [], steps: [], checked: [], screenshots: [], export: null};

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu'],
});

const fail = (msg) => { throw new Error(msg); };

// check runs axe-core on the current page and saves its screenshot. axe is evaluated
// through the DevTools protocol, so the page's CSP stays as strict as in production.
async function check(page, name, vp) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
  result.checked.push({
    page: name, viewport: vp,
    violations: r.violations.map((v) => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' '))})),
  });
  const shot = path.join(shotDir, `${name}-${vp}.png`);
  await page.screenshot({path: shot, fullPage: true});
  result.screenshots.push(shot);
}

// tabTo presses Tab until the element with id has the focus, as a keyboard user would.
async function tabTo(page, id) {
  for (let i = 0; i < 40; i++) {
    if (await page.evaluate(() => document.activeElement && document.activeElement.id) === id) return;
    await page.keyboard.press('Tab');
  }
  fail(`#${id} not reachable with Tab on ${page.url()}`);
}

async function typeInto(page, id, text) {
  await tabTo(page, id);
  await page.keyboard.press('ControlOrMeta+A');
  await page.keyboard.type(text);
}

// submit presses key on the focused element and waits for the next page.
async function submit(page, key = 'Enter') {
  await Promise.all([page.waitForNavigation(), page.keyboard.press(key)]);
}

async function expectText(page, text) {
  const body = await page.textContent('body');
  if (!body.includes(text)) fail(`${page.url()}: no "${text}" in the page`);
}

// waitForResetLink reads the .eml files the development sender writes until one to
// email carries a reset link.
async function waitForResetLink(email) {
  for (let i = 0; i < 100; i++) {
    for (const f of await readdir(mailDir)) {
      const msg = await readFile(path.join(mailDir, f), 'utf8');
      const m = msg.match(/https?:\/\/\S+\/reinitialiser\?token=[A-Za-z0-9_%-]+/);
      if (m && msg.includes(`To: ${email}`)) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  fail(`no reset e-mail for ${email} in ${mailDir}`);
}

async function journeys(width, height) {
  const vp = `${width}x${height}`;
  const step = (s) => result.steps.push(`${vp} ${s}`);
  const context = await browser.newContext({viewport: {width, height}, acceptDownloads: true});
  const page = await context.newPage();
  page.on('pageerror', (e) => result.errors.push(`${vp} ${e}`));
  // A page answering 400, 403 or 404 on purpose logs "Failed to load resource": the
  // journey checks those statuses itself, and any failed sub-resource is caught below.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) result.errors.push(`${vp} ${page.url()}: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.request().resourceType() !== 'document' && r.status() >= 400) result.errors.push(`${vp} ${r.url()}: ${r.status()}`);
  });
  page.on('request', (r) => { if (!r.url().startsWith(base)) result.errors.push(`${vp} fetched outside: ${r.url()}`); });
  try {
    // A visitor looks around.
    await page.goto(base + '/');
    await expectText(page, 'Créer un compte');
    await check(page, 'accueil', vp);
    await page.goto(base + '/donnees');
    await check(page, 'donnees', vp);
    const missing = await page.goto(base + '/nulle-part');
    if (missing.status() !== 404) fail(`/nulle-part: ${missing.status()}`);
    await expectText(page, 'Page introuvable');
    await check(page, 'introuvable', vp);

    // Sign-up: a first try with mistakes, then the right answers, by keyboard.
    const email = `lea-${width}@example.org`;
    await page.goto(base + '/inscription');
    await check(page, 'inscription', vp);
    await typeInto(page, 'prenom', 'Léa');
    await typeInto(page, 'email', 'lea-sans-arobase');
    await submit(page);
    await expectText(page, 'Ce champ est obligatoire.');
    if (await page.inputValue('#prenom') !== 'Léa') fail('the first name was not kept');
    await check(page, 'inscription-erreurs', vp);
    step('sign-up errors shown');
    await typeInto(page, 'nom', 'Martin');
    await typeInto(page, 'email', email);
    await typeInto(page, 'password', password);
    await typeInto(page, 'commune', '92002');
    await tabTo(page, 'consent_newsletter');
    await page.keyboard.press('Space');
    await tabTo(page, 'creer');
    await submit(page);
    await expectText(page, 'Votre compte est créé');
    step('signed up');

    // Profile correction.
    await check(page, 'compte', vp);
    await typeInto(page, 'telephone', '0698765432');
    await submit(page);
    await expectText(page, 'Votre profil est enregistré.');
    if (await page.inputValue('#telephone') !== '0698765432') fail('phone not saved');
    step('profile corrected');

    // Download of one's data.
    await tabTo(page, 'telecharger');
    const [download] = await Promise.all([page.waitForEvent('download'), page.keyboard.press('Enter')]);
    const data = JSON.parse(await readFile(await download.path(), 'utf8'));
    if (data.profile.email !== email) fail(`downloaded data of ${data.profile.email}`);
    result.export = data;
    step('data downloaded');

    // Erasure, with the password and the confirmation.
    await tabTo(page, 'supprimer-lien');
    await submit(page);
    await check(page, 'supprimer', vp);
    await typeInto(page, 'password', password);
    await tabTo(page, 'confirmer');
    await page.keyboard.press('Space');
    await tabTo(page, 'supprimer');
    await submit(page);
    await expectText(page, 'ont été supprimés');
    step('account erased');

    // A forgotten password, reset from the e-mail's link.
    const forgetful = `oubli-${width}@example.org`;
    await page.goto(base + '/connexion');
    await check(page, 'connexion', vp);
    await tabTo(page, 'oubli-lien');
    await submit(page);
    await check(page, 'oubli', vp);
    await typeInto(page, 'email', forgetful);
    await submit(page);
    await expectText(page, 'un e-mail avec un lien');
    const link = await waitForResetLink(forgetful);
    step('reset e-mail read');
    await page.goto(link);
    await check(page, 'reinitialiser', vp);
    const fresh = 'un mot de passe enfin retenu';
    await typeInto(page, 'password', fresh);
    await typeInto(page, 'password2', fresh);
    await submit(page);
    await expectText(page, 'Votre mot de passe est changé.');
    await typeInto(page, 'email', forgetful);
    await typeInto(page, 'password', fresh);
    await submit(page);
    await expectText(page, 'Vous êtes connecté·e.');
    await check(page, 'accueil-membre', vp);
    step('logged in with the new password');

    // A forged form is refused with the French 403 page.
    await page.goto(base + '/compte');
    await page.evaluate(() => { document.querySelector('form[action="/compte/profil"] input[name="csrf"]').value = 'forge'; });
    await typeInto(page, 'prenom', 'Pirate');
    await submit(page);
    await expectText(page, 'Accès refusé');
    await check(page, 'refus', vp);

    await page.goto(base + '/');
    await tabTo(page, 'deconnexion');
    await submit(page);
    await expectText(page, 'Vous êtes déconnecté·e.');
    step('logged out');
  } catch (e) {
    result.errors.push(`${vp} ${page.url()}: ${e.message}`);
  } finally {
    await context.close();
  }
}

// axeWorks makes sure a silent axe means clean pages, not a broken check: a page
// without lang and with an image without alt must be reported.
async function axeWorks() {
  const page = await browser.newPage();
  await page.setContent('<!doctype html><html><body><img src="data:,"><p>coopol</p></body></html>');
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, {resultTypes: ['violations']}));
  const ids = r.violations.map((v) => v.id);
  if (!ids.includes('html-has-lang') || !ids.includes('image-alt')) result.errors.push(`axe self-check found only ${ids}`);
  await page.close();
}

try {
  await axeWorks();
  await journeys(390, 844);
  await journeys(1280, 800);
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
