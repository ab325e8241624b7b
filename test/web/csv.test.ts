/**
 * CSV cells (web/csv.ts): RFC 4180 quoting, and a leading quote on every cell a spreadsheet
 * would run as a formula, ASCII or full-width.
 */
import t from 'tap';
import { csvField, csvRecord } from '../../web/csv.js';

t.test('formula starters get a leading quote, full-width ones too', async (t) => {
  for (const cell of ['=1+1', '+1 555', '-2', '@SUM(A1)', '\t=1', '\r=1']) {
    t.equal(csvField(cell).replace(/^"|"$/g, '')[0], "'", JSON.stringify(cell));
  }
  for (const cell of ['\uFF1DHYPERLINK("x")', '\uFF0B1', '\uFF0D1', '\uFF20SUM(A1)']) {
    t.equal(csvField(cell).replace(/^"|"$/g, '')[0], "'", `full-width ${JSON.stringify(cell)}`);
  }
});

t.test('ordinary text, numbers and empty cells are left as they are', async (t) => {
  t.equal(csvField('Ada'), 'Ada');
  t.equal(csvField('a=b'), 'a=b', 'only a leading starter counts');
  t.equal(csvField('\uFF21da'), '\uFF21da', 'other full-width letters are text');
  t.equal(csvField(-3), '-3', 'numbers are numbers, not formulas');
  t.equal(csvField(null), '');
  t.equal(csvField(undefined), '');
});

t.test('quotes, commas and line breaks are quoted as RFC 4180 says', async (t) => {
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('two\nlines'), '"two\nlines"');
  t.equal(csvField('=1,2'), `"'=1,2"`);
  t.equal(csvRecord(['a', 1, null]), 'a,1,\r\n');
});
