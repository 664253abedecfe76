// Prettier's defaults are the code's own (semicolons, trailing commas, two spaces, parentheses
// around an arrow's parameters); it writes single quotes, and lines run to 160 columns.
/** @type {import('prettier').Config} */
export default { singleQuote: true, printWidth: 160 };
