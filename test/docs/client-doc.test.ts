/**
 * docs/CLIENT.md stays complete: every public method of `WebSocketClient` and `CallSession`,
 * every option, every event (one per server message type) and every error code is in it, its
 * links land on headings that exist, and its examples type-check against the client.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import ts from 'typescript';
import {
  CallSession,
  ClientErrorReason,
  ConnectionState,
  ErrorCode,
  QUALITY_THRESHOLDS,
  WebSocketClient,
} from '@calldocker/client';
import { ServerMessages } from '../../client-lib/protocol.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const doc = readFileSync(join(root, 'docs/CLIENT.md'), 'utf8');
const protocolDoc = readFileSync(join(root, 'docs/PROTOCOL.md'), 'utf8');

/** The text of a `## title` section, up to the next `## ` heading. */
function section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const end = text.indexOf('\n## ', start + 1);
  return end < 0 ? text.slice(start) : text.slice(start, end);
}

const clientDoc = section(doc, 'WebSocketClient');
const sessionDoc = section(doc, 'CallSession');

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
/** A table row whose first cell is `name` in backticks (optionally a link). */
const rowOf = (name: string) => new RegExp(`^\\| \\[?\`${escape(name)}\`.*\\|$`, 'm');

// --- the client's source, read with the TypeScript compiler ----------------------------------

function sourceOf(file: string): ts.SourceFile {
  const path = join(root, 'client-lib', file);
  return ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
}

const sources = ['websocket-client.ts', 'call-session.ts', 'events.ts', 'reconnect-policy.ts'].map(
  sourceOf,
);

function findNode<T extends ts.Node>(
  test: (node: ts.Node) => node is T,
  name: string,
): T | undefined {
  let found: T | undefined;
  const visit = (node: ts.Node): void => {
    if (found !== undefined) return;
    const named = node as ts.Node & { name?: ts.Node };
    if (test(node) && named.name !== undefined && ts.isIdentifier(named.name)) {
      if (named.name.text === name) found = node;
    }
    ts.forEachChild(node, visit);
  };
  for (const sf of sources) visit(sf);
  return found;
}

function memberName(member: ts.Node): string | undefined {
  const name = (member as { name?: ts.PropertyName }).name;
  if (name === undefined) return undefined;
  if (ts.isIdentifier(name) || ts.isStringLiteral(name) || ts.isPrivateIdentifier(name)) {
    return name.text;
  }
  return undefined;
}

/** The property names an interface (or a type literal) declares. */
function interfaceKeys(name: string): string[] {
  const decl = findNode(ts.isInterfaceDeclaration, name);
  if (decl === undefined) throw new Error(`interface ${name} not found in client-lib`);
  return decl.members.map(memberName).filter((n): n is string => n !== undefined);
}

/** Members of class `name` that are private or protected (not part of the public API). */
function nonPublicMembers(name: string): Set<string> {
  const decl = findNode(ts.isClassDeclaration, name);
  if (decl === undefined) throw new Error(`class ${name} not found in client-lib`);
  const hidden = new Set<string>();
  for (const member of decl.members) {
    const flags = ts.getCombinedModifierFlags(member as ts.Declaration);
    const key = memberName(member);
    const isPrivateName =
      (member as { name?: ts.Node }).name?.kind === ts.SyntaxKind.PrivateIdentifier;
    if (
      key !== undefined &&
      (isPrivateName || flags & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected))
    ) {
      hidden.add(key);
    }
  }
  return hidden;
}

/** Public properties declared in class `name` (instance fields and constructor parameters). */
function publicProperties(name: string): string[] {
  const decl = findNode(ts.isClassDeclaration, name)!;
  const hidden = nonPublicMembers(name);
  return decl.members
    .filter(ts.isPropertyDeclaration)
    .map(memberName)
    .filter((n): n is string => n !== undefined && !hidden.has(n));
}

/**
 * Public methods and accessors of a class, by reflection over its prototype chain (up to
 * `Object.prototype`), less what the source of each class declares private or protected.
 */
function publicPrototypeMembers(cls: abstract new (...args: never[]) => unknown): string[] {
  const names = new Set<string>();
  for (
    let proto: object | null = cls.prototype as object;
    proto !== null && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    const owner = (proto as { constructor: { name: string } }).constructor.name;
    const hidden = nonPublicMembers(owner);
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key !== 'constructor' && !hidden.has(key)) names.add(key);
    }
  }
  return [...names].sort();
}

/** Whether `text` names `member` in code: `member(`, `member`, `obj.member(` or `obj.member`. */
const mentions = (text: string, member: string) =>
  new RegExp(`\`(?:\\w+\\.)?${escape(member)}[(<\`]`).test(text);

// --- tests ------------------------------------------------------------------------------------

t.test('every public method and accessor of WebSocketClient is documented', async (t) => {
  const members = publicPrototypeMembers(WebSocketClient);
  for (const name of ['connect', 'requestCall', 'sendWebRTCOffer', 'on', 'state']) {
    t.ok(members.includes(name), `reflection finds ${name}`);
  }
  t.notOk(members.includes('setState'), 'private methods are not part of the API');
  t.notOk(members.includes('emit'), 'protected methods are not part of the API');
  for (const name of members) t.ok(mentions(clientDoc, name), `WebSocketClient.${name}`);
});

t.test('every public method and property of CallSession is documented', async (t) => {
  const members = publicPrototypeMembers(CallSession);
  for (const name of ['start', 'hangup', 'stats', 'setScreenShare', 'on']) {
    t.ok(members.includes(name), `reflection finds ${name}`);
  }
  t.notOk(members.includes('makeOffer'), 'private methods are not part of the API');
  for (const name of [...members, ...publicProperties('CallSession')]) {
    t.ok(mentions(sessionDoc, name), `CallSession.${name}`);
  }
});

t.test('every option has a row in its options table', async (t) => {
  const clientOptions = interfaceKeys('WebSocketClientOptions');
  t.ok(clientOptions.includes('url') && clientOptions.includes('getToken'), 'options parsed');
  for (const key of clientOptions) t.match(clientDoc, rowOf(key), `WebSocketClientOptions.${key}`);
  for (const key of interfaceKeys('CallSessionOptions')) {
    t.match(sessionDoc, rowOf(key), `CallSessionOptions.${key}`);
  }
  for (const key of [...interfaceKeys('FullJitterOptions'), ...interfaceKeys('ReconnectContext')]) {
    t.ok(doc.includes(key), `reconnect policy: ${key}`);
  }
});

t.test('every server message type is an event row listing its fields', async (t) => {
  const types = Object.keys(ServerMessages) as Array<keyof typeof ServerMessages>;
  t.ok(types.length > 20, 'server message types found');
  for (const type of types) {
    const row = new RegExp(
      `^\\| \\[\`${type}\`\\]\\(PROTOCOL\\.md#[\\w-]+\\) +\\|(.*)\\|$`,
      'm',
    ).exec(clientDoc);
    if (row === null) {
      t.fail(`no event row for ${type}`);
      continue;
    }
    const fields = Object.keys(ServerMessages[type].properties).filter((key) => key !== 'type');
    for (const field of fields) t.match(row[1]!, `\`${field}\``, `${type}.${field}`);
  }
});

t.test("the client's own events and CallSession's events each have a row", async (t) => {
  const alias = findNode(ts.isTypeAliasDeclaration, 'ClientEvents');
  const own: string[] = [];
  alias?.type.forEachChild(function visit(node) {
    if (ts.isTypeLiteralNode(node)) for (const m of node.members) own.push(memberName(m)!);
  });
  t.same(own.sort(), ['disconnected', 'failed', 'message', 'state']);
  for (const event of own) t.match(clientDoc, rowOf(event), `client event ${event}`);
  for (const event of interfaceKeys('CallSessionEvents')) {
    t.match(sessionDoc, rowOf(event), `CallSession event ${event}`);
  }
});

t.test('every state, error code, media error reason and threshold is documented', async (t) => {
  for (const [name, value] of Object.entries(ConnectionState)) {
    t.match(clientDoc, `\`ConnectionState.${name}\` (\`'${value}'\`)`, `ConnectionState.${name}`);
  }
  for (const code of Object.values(ErrorCode)) t.match(clientDoc, rowOf(code), `server ${code}`);
  for (const [name, code] of Object.entries(ClientErrorReason)) {
    t.match(
      clientDoc,
      new RegExp(`^\\| \`${code}\` +\\| \`ClientErrorReason\\.${name}\` +\\|`, 'm'),
      `ClientErrorReason.${name}`,
    );
  }
  const reasons = findNode(ts.isTypeAliasDeclaration, 'MediaErrorReason');
  const literals: string[] = [];
  reasons?.type.forEachChild(function visit(node) {
    if (ts.isLiteralTypeNode(node) && ts.isStringLiteral(node.literal))
      literals.push(node.literal.text);
    node.forEachChild(visit);
  });
  t.equal(literals.length, 4, 'media error reasons parsed');
  for (const reason of literals) t.match(sessionDoc, rowOf(reason), `MediaError ${reason}`);
  const thresholds = Object.entries(QUALITY_THRESHOLDS)
    .map(([key, value]) => `${key}: ${value}`)
    .join(', ');
  t.match(sessionDoc, `\`QUALITY_THRESHOLDS\` is \`{ ${thresholds} }\``);
});

/** GitHub's anchors for a Markdown file's headings (duplicates get -1, -2, ...). */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const body = markdown.replace(/^```[\s\S]*?^```/gm, '');
  for (const [, heading] of body.matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

t.test('every link into PROTOCOL.md or within CLIENT.md lands on a heading', async (t) => {
  const own = anchors(doc);
  const protocol = anchors(protocolDoc);
  t.ok(protocol.has('call_ended-1'), 'duplicate headings are numbered');
  let links = 0;
  for (const [, file, anchor] of doc.matchAll(/\]\((PROTOCOL\.md)?#([^)]+)\)/g)) {
    links++;
    t.ok((file === undefined ? own : protocol).has(anchor!), `${file ?? 'CLIENT.md'}#${anchor}`);
  }
  t.ok(links > 30, `${links} links checked`);
});

t.test('the examples that import the client type-check against it', async (t) => {
  const blocks = [...doc.matchAll(/^```ts\n(import[\s\S]*?)^```/gm)].map((m) => m[1]!);
  t.ok(blocks.length >= 4, `${blocks.length} examples`);
  const config = ts.getParsedCommandLineOfConfigFile(
    join(root, 'tsconfig.json'),
    {},
    { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined },
  )!;
  // Examples declare what a reader would use next (`status`, `position`): unused is fine here.
  const options = { ...config.options, noEmit: true, noUnusedLocals: false };
  // `@calldocker/client` resolves as in every test: the workspace package's sources.
  const files = new Map(
    blocks.map((code, i) => [join(root, `test/docs/client-doc-example-${i}.ts`), code]),
  );
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (name) => files.has(name) || fileExists.call(host, name);
  host.readFile = (name) => files.get(name) ?? readFile.call(host, name);
  host.getSourceFile = (name, version, ...rest) => {
    const text = files.get(name);
    return text === undefined
      ? getSourceFile.call(host, name, version, ...rest)
      : ts.createSourceFile(name, text, version);
  };
  const program = ts.createProgram([...files.keys()], options, host);
  for (const [name, code] of files) {
    const sf = program.getSourceFile(name)!;
    const diagnostics = [
      ...program.getSyntacticDiagnostics(sf),
      ...program.getSemanticDiagnostics(sf),
    ].map((d) => {
      const line = sf.getLineAndCharacterOfPosition(d.start ?? 0).line;
      return `${code.split('\n')[line]}\n  ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
    t.same(diagnostics, [], code.split('\n')[0]);
  }
});
