// Package docsassets embeds the Swagger UI build that the API serves at
// /docs, so the docs page needs no CDN and works offline.
//
// The files are copied unmodified from the swagger-ui-dist package of the
// npm registry (version in Version) by update.sh, which pins the package's
// integrity hash; they are not edited by hand. Only the files the page loads
// are kept, with their licences, to stay under 2 MiB in the repository.
//
// This package holds data only; httpapi decides how it is served.
package docsassets

import "embed"

// Version is the swagger-ui-dist release the files come from.
const Version = "5.35.0"

// FS holds swagger-ui-bundle.js, swagger-ui.css, favicon-32x32.png and the
// licence files, at its root.
//
//go:embed swagger-ui-bundle.js swagger-ui-bundle.js.LICENSE.txt swagger-ui.css favicon-32x32.png LICENSE NOTICE
var FS embed.FS
