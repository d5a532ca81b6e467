// map.mjs URL SCREENSHOT: loads coopol's preview map in Debian's Chromium (headless,
// driven by playwright-core; no browser is downloaded), waits for tiles and indicator
// values, clicks the centre, switches the indicator, saves a screenshot and prints
// what it saw as JSON.
import {chromium} from 'playwright-core';

const [url, shot] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu',
    '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
});
const result = {errors: [], tileRequests: 0, outside: []};
try {
  const page = await browser.newPage({viewport: {width: 1000, height: 700}});
  page.on('pageerror', (e) => result.errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') result.errors.push(m.text()); });
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/tiles/') && u.pathname.endsWith('.mvt')) result.tileRequests++;
    if (u.host !== new URL(url).host) result.outside.push(r.url()); // nothing fetched elsewhere
  });
  await page.goto(url);
  const ready = () => page.waitForFunction(() => {
    const m = window.coopolMap;
    return m && m.loaded() && m.areTilesLoaded() && /renseignés/.test(document.getElementById('etat').textContent);
  }, null, {timeout: 60000});
  await ready();
  await page.waitForTimeout(300);
  Object.assign(result, await page.evaluate(() => {
    const m = window.coopolMap;
    const all = m.queryRenderedFeatures();
    const fills = m.queryRenderedFeatures({layers: ['bureaux-fill']});
    return {
      rendered: all.length,
      layers: [...new Set(all.map((f) => f.sourceLayer))].sort(),
      bureaux: new Set(fills.map((f) => f.properties.id)).size,
      withValue: fills.filter((f) => typeof f.state.v === 'number').length,
      legend: document.getElementById('legende').innerText,
    };
  }));
  await page.mouse.click(500, 350);
  await page.waitForSelector('.maplibregl-popup-content', {timeout: 10000});
  result.popup = await page.textContent('.maplibregl-popup-content');
  const before = result.tileRequests;
  await page.selectOption('#indicateur', 'participation');
  await page.waitForFunction(() => /Participation/.test(document.getElementById('legende').innerText), null, {timeout: 10000});
  await ready();
  result.tilesFetchedBySwitch = result.tileRequests - before;
  await page.screenshot({path: shot});
} catch (e) {
  result.errors.push(String(e));
} finally {
  await browser.close();
}
console.log(JSON.stringify(result));
