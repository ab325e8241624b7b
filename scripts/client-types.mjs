/**
 * Writes the published `protocol.d.ts` of `@calldocker/client`: the wire types of
 * `client-lib/protocol.ts` resolved to plain TypeScript, so the package's declarations need no
 * other package. The source derives each type from its TypeBox schema (`Static<typeof X>`);
 * `tsc` would publish those references as they are, and a consumer would then need
 * `@sinclair/typebox` installed just to type-check (or would silently get `any` under
 * `skipLibCheck`). Here the compiler resolves every type and this module prints the result.
 *
 * The three message families (client messages, server messages, ack results) are printed as
 * one interface per family, keyed by `type`, and the source's generic helpers
 * (`ServerMessageOf<K>`, ...) become lookups into it; everything else is printed resolved.
 * A type this printer does not know fails the build rather than degrading to `any`. The
 * package test type-checks the published types against the sources, both ways.
 */
import ts from 'typescript';

/** The generic families: the helper's name, its schema map, and the interface printed for it. */
const FAMILIES = [
  {
    of: 'ClientMessageOf',
    type: 'ClientMessageType',
    union: 'ClientMessage',
    map: 'ClientMessages',
  },
  {
    of: 'ServerMessageOf',
    type: 'ServerMessageType',
    union: 'ServerMessage',
    map: 'ServerMessages',
  },
  { of: 'AckResultOf', type: 'AckResultType', union: undefined, map: 'AckResults' },
];

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/**
 * Resolved declarations of every exported type alias of `protocolFile`, as the text of a
 * `.d.ts` file.
 * @param {ts.Program} program a program that contains `protocolFile`
 * @param {string} protocolFile absolute path of `client-lib/protocol.ts`
 * @returns {string}
 */
export function resolvedProtocolTypes(program, protocolFile) {
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(protocolFile);
  if (source === undefined) throw new Error(`client-types: ${protocolFile} is not in the program`);
  const moduleSymbol = checker.getSymbolAtLocation(source);
  if (moduleSymbol === undefined) throw new Error('client-types: protocol.ts has no exports');
  const exports = new Map(checker.getExportsOfModule(moduleSymbol).map((s) => [s.name, s]));
  /** Enums of constants.ts that the printed types refer to, imported by name. */
  const enums = new Set();

  /** @param {ts.Type} type @param {string} indent @returns {string} */
  const print = (type, indent) => {
    const { flags } = type;
    if (flags & ts.TypeFlags.EnumLiteral && type.symbol !== undefined) {
      // A string enum's members are not assignable from their values: keep the enum's name.
      const enumSymbol = flags & ts.TypeFlags.Union ? type.symbol : type.symbol.parent;
      if (enumSymbol !== undefined && enumSymbol.flags & ts.SymbolFlags.Enum) {
        enums.add(enumSymbol.name);
        return flags & ts.TypeFlags.Union
          ? enumSymbol.name
          : `${enumSymbol.name}.${type.symbol.name}`;
      }
    }
    if (flags & ts.TypeFlags.String) return 'string';
    if (flags & ts.TypeFlags.Number) return 'number';
    if (flags & ts.TypeFlags.Boolean) return 'boolean';
    if (flags & ts.TypeFlags.Null) return 'null';
    if (flags & ts.TypeFlags.Undefined) return 'undefined';
    if (flags & ts.TypeFlags.Unknown) return 'unknown';
    if (flags & ts.TypeFlags.BooleanLiteral) return checker.typeToString(type);
    if (type.isStringLiteral()) return JSON.stringify(type.value);
    if (type.isNumberLiteral()) return String(type.value);
    if (type.isUnion()) {
      // `true | false` is how the checker spells `boolean` inside a union.
      return collapseBoolean(type.types.map((member) => print(member, indent))).join(' | ');
    }
    if (checker.isArrayType(type)) {
      const [element] = checker.getTypeArguments(/** @type {ts.TypeReference} */ (type));
      if (element === undefined) throw new Error('client-types: an array without an element type');
      return `Array<${print(element, indent)}>`;
    }
    if (flags & (ts.TypeFlags.Object | ts.TypeFlags.Intersection)) {
      if (checker.getIndexInfosOfType(type).length > 0 || type.getCallSignatures().length > 0) {
        throw new Error(`client-types: cannot print ${checker.typeToString(type)}`);
      }
      const inner = `${indent}  `;
      const lines = checker.getPropertiesOfType(type).map((prop) => {
        const optional = (prop.flags & ts.SymbolFlags.Optional) !== 0;
        let propType = checker.getTypeOfSymbol(prop);
        if (optional && propType.isUnion()) {
          // Optional properties carry `| undefined`; the `?` already says so.
          const kept = propType.types.filter((m) => !(m.flags & ts.TypeFlags.Undefined));
          if (kept.length === 1) propType = /** @type {ts.Type} */ (kept[0]);
          else {
            const text = kept.map((m) => print(m, inner));
            const name = IDENTIFIER.test(prop.name) ? prop.name : JSON.stringify(prop.name);
            return `${inner}${name}?: ${collapseBoolean(text).join(' | ')};`;
          }
        }
        const name = IDENTIFIER.test(prop.name) ? prop.name : JSON.stringify(prop.name);
        return `${inner}${name}${optional ? '?' : ''}: ${print(propType, inner)};`;
      });
      return lines.length === 0 ? '{}' : `{\n${lines.join('\n')}\n${indent}}`;
    }
    throw new Error(`client-types: cannot print ${checker.typeToString(type)}`);
  };

  /** The `static` type TypeBox attaches to a schema's type: what `Static<>` reads. */
  const staticOf = (/** @type {ts.Type} */ schemaType, /** @type {string} */ what) => {
    const found = checker.getPropertyOfType(schemaType, 'static');
    if (found === undefined) throw new Error(`client-types: ${what} is not a TypeBox schema`);
    return checker.getTypeOfSymbol(found);
  };

  /** The `description` a schema's options give, read from the source, for JSDoc. */
  const descriptionOf = (/** @type {ts.Node | undefined} */ node) => {
    if (node === undefined || !ts.isPropertyAssignment(node)) return undefined;
    const call = node.initializer;
    if (!ts.isCallExpression(call)) return undefined;
    for (const arg of call.arguments.slice(1)) {
      if (!ts.isObjectLiteralExpression(arg)) continue;
      for (const p of arg.properties) {
        if (
          ts.isPropertyAssignment(p) &&
          p.name.getText(source) === 'description' &&
          ts.isStringLiteralLike(p.initializer)
        ) {
          return p.initializer.text;
        }
      }
    }
    return undefined;
  };

  const jsdoc = (/** @type {ts.Symbol} */ symbol, /** @type {string} */ indent) => {
    const text = ts.displayPartsToString(symbol.getDocumentationComment(checker));
    return text === '' ? '' : `${indent}/** ${text.replace(/\s*\n\s*/g, ' ')} */\n`;
  };

  const out = [];
  const handled = new Set();
  for (const family of FAMILIES) {
    const map = exports.get(family.map);
    if (map === undefined) throw new Error(`client-types: protocol.ts exports no ${family.map}`);
    const mapType = checker.getTypeOfSymbol(map);
    const entries = checker.getPropertiesOfType(mapType).map((entry) => {
      const description = descriptionOf(entry.valueDeclaration);
      const doc = description === undefined ? '' : `  /** ${description} */\n`;
      const body = print(staticOf(checker.getTypeOfSymbol(entry), entry.name), '  ');
      return `${doc}  ${entry.name}: ${body};`;
    });
    const mapName = `${family.map.replace(/s$/, '')}Map`;
    out.push(
      `${jsdoc(map, '')}export interface ${mapName} {\n${entries.join('\n')}\n}`,
      `${jsdoc(exports.get(family.type) ?? map, '')}export type ${family.type} = keyof ${mapName};`,
      `${jsdoc(exports.get(family.of) ?? map, '')}export type ${family.of}<K extends ${family.type}> = ${mapName}[K];`,
    );
    handled.add(family.map).add(family.type).add(family.of);
    if (family.union !== undefined) {
      out.push(
        `${jsdoc(exports.get(family.union) ?? map, '')}export type ${family.union} = ${mapName}[${family.type}];`,
      );
      handled.add(family.union);
    }
  }

  for (const symbol of exports.values()) {
    if (handled.has(symbol.name) || !(symbol.flags & ts.SymbolFlags.TypeAlias)) continue;
    const declaration = symbol.declarations?.find(ts.isTypeAliasDeclaration);
    if (declaration?.typeParameters !== undefined) {
      throw new Error(`client-types: no rule for the generic type ${symbol.name}`);
    }
    const type = checker.getDeclaredTypeOfSymbol(symbol);
    out.push(`${jsdoc(symbol, '')}export type ${symbol.name} = ${print(type, '')};`);
  }

  const imports =
    enums.size === 0
      ? ''
      : `import type { ${[...enums].sort().join(', ')} } from './constants.js';\n\n`;
  return (
    '// Generated from protocol.ts by the package build (scripts/client-types.mjs): the wire\n' +
    "// types resolved, so these declarations need no other package's types.\n" +
    `${imports}${out.join('\n\n')}\n`
  );
}

/** @param {string[]} parts */
function collapseBoolean(parts) {
  if (!parts.includes('true') || !parts.includes('false')) return parts;
  return [...parts.filter((p) => p !== 'true' && p !== 'false'), 'boolean'];
}
