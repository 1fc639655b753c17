// The two HTML documents the server writes: the app shell and the sign-in form. Neither holds an
// inline script or style (the CSP forbids both); all behaviour is in app.js, all looks in app.css.
const head = (title: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title}</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/app.css">
`;

export const APP_HTML = `${head('trustmap')}<script type="module" src="/app.js"></script>
</head>
<body>
<noscript>trustmap's map needs JavaScript. The same data is in the JSON API under /api/.</noscript>
<div id="app"></div>
</body>
</html>
`;

/** Text for an HTML attribute value in double quotes. */
function attr(s: string): string {
  return s.replace(/[&"<>']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The sign-in form; `next` is the view to return to (already checked to be one of this page's). */
export function loginHtml(failed: boolean, next = '/'): string {
  return `${head('trustmap: sign in')}</head>
<body class="login">
<form class="login-box" method="post" action="/api/login">
<h1>trustmap</h1>
<p>This server needs the token it was started with (<code>--token-file</code> or <code>TRUSTMAP_TOKEN</code>).</p>
${failed ? '<p class="error" role="alert">That token is not right.</p>\n' : ''}<label>Token <input type="password" name="token" autocomplete="current-password" required autofocus></label>
<input type="hidden" name="next" value="${attr(next)}">
<button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}
