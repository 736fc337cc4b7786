// Every npm package is allowed per world, as Signal Desktop does: a package that is fine in the engine (undici,
// conf) must not creep into the renderer's sandbox or the shared contract, and Electron stays in its own corner.
// no-restricted-imports is a deny list; a world needs an allow list, so new dependencies are a decision.
import { builtinModules } from 'node:module';

const builtins = new Set(builtinModules);

function packageName(source) {
  if (source.startsWith('.') || source.startsWith('/')) return undefined;
  const parts = source.split('/');
  return source.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/** @type {import('eslint').Rule.RuleModule} */
export default {
  meta: {
    type: 'problem',
    docs: { description: 'Only the npm packages allowed for this world may be imported.' },
    schema: [
      {
        type: 'object',
        properties: {
          world: { type: 'string' },
          packages: { type: 'array', items: { type: 'string' } },
          nodeBuiltins: { type: 'boolean' },
        },
        required: ['world', 'packages'],
        additionalProperties: false,
      },
    ],
  },
  create(context) {
    const { world, packages, nodeBuiltins = false } = context.options[0];
    const allowed = new Set(packages);
    function check(node, source) {
      if (typeof source !== 'string') return;
      const name = packageName(source);
      if (name === undefined) return;
      const bare = name.startsWith('node:') ? name.slice(5) : name;
      if (name.startsWith('node:') || builtins.has(bare)) {
        if (!nodeBuiltins)
          context.report({ node, message: `Node module '${source}' is not available in the ${world} world.` });
        return;
      }
      if (!allowed.has(name))
        context.report({
          node,
          message: `'${name}' is not allowed in the ${world} world (allowed: ${[...allowed].join(', ') || 'none'}); add it to the world's list in eslint.config.js if it belongs there.`,
        });
    }
    return {
      ImportDeclaration: (node) => check(node, node.source.value),
      ExportNamedDeclaration: (node) => node.source && check(node, node.source.value),
      ExportAllDeclaration: (node) => check(node, node.source.value),
      ImportExpression: (node) => node.source.type === 'Literal' && check(node, node.source.value),
    };
  },
};
