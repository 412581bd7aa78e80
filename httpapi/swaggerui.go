package httpapi

import (
	"bytes"
	"compress/gzip"
	"io/fs"
	"path"
	"sort"
	"sync"

	"github.com/valyala/fasthttp"

	"github.com/userapi/userapi/httpapi/docsassets"
)

// docsPageHTML loads Swagger UI from the binary's own /docs/ assets and
// points it at /openapi.json. The URLs are relative so the page also works
// behind a path prefix.
const docsPageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>User API - Swagger UI</title>
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({
  url: "openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
  deepLinking: true,
  showExtensions: true
});
</script>
</body>
</html>
`

// asset is one embedded file; its gzip form is made on first request, so
// servers that never serve /docs (and tests) never pay for compressing it.
type asset struct {
	body  []byte
	ctype string
	once  sync.Once
	gz    []byte
}

func (a *asset) gzipped() []byte {
	a.once.Do(func() {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		_, _ = zw.Write(a.body)
		if zw.Close() == nil {
			a.gz = buf.Bytes()
		}
	})
	return a.gz
}

type docs struct {
	assets map[string]*asset
}

var assetTypes = map[string]string{
	".js":  "text/javascript; charset=utf-8",
	".css": "text/css; charset=utf-8",
	".png": "image/png",
	".txt": "text/plain; charset=utf-8",
	"":     "text/plain; charset=utf-8", // LICENSE, NOTICE
}

func newDocs() (*docs, error) {
	d := &docs{assets: make(map[string]*asset)}
	err := fs.WalkDir(docsassets.FS, ".", func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		body, err := fs.ReadFile(docsassets.FS, p)
		if err != nil {
			return err
		}
		ctype, ok := assetTypes[path.Ext(p)]
		if !ok {
			ctype = "application/octet-stream"
		}
		d.assets[p] = &asset{body: body, ctype: ctype}
		return nil
	})
	return d, err
}

// names lists the assets, sorted, for the OpenAPI document.
func (d *docs) names() []string {
	names := make([]string, 0, len(d.assets))
	for n := range d.assets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *Server) docsPage(ctx *fasthttp.RequestCtx, _ string) {
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType("text/html; charset=utf-8")
	ctx.SetBodyString(docsPageHTML)
}

func (s *Server) docsAsset(ctx *fasthttp.RequestCtx, _ string) {
	name, _ := ctx.UserValue("file").(string)
	a, ok := s.docs.assets[name]
	if !ok {
		writeDetail(ctx, fasthttp.StatusNotFound, detailNotFound)
		return
	}
	ctx.SetStatusCode(fasthttp.StatusOK)
	ctx.SetContentType(a.ctype)
	// The files change only with the binary; the version is in the ETag.
	ctx.Response.Header.Set(fasthttp.HeaderCacheControl, "public, max-age=86400")
	ctx.Response.Header.Set(fasthttp.HeaderETag, `"swagger-ui-`+docsassets.Version+`"`)
	ctx.Response.Header.Set(fasthttp.HeaderVary, "Accept-Encoding")
	if len(a.body) > 1024 && ctx.Request.Header.HasAcceptEncoding("gzip") {
		if gz := a.gzipped(); gz != nil {
			ctx.Response.Header.Set(fasthttp.HeaderContentEncoding, "gzip")
			ctx.Response.SetBodyRaw(gz) // shared and never modified
			return
		}
	}
	ctx.Response.SetBodyRaw(a.body)
}

func (s *Server) openAPIHandler(ctx *fasthttp.RequestCtx, _ string) {
	writeJSON(ctx, fasthttp.StatusOK, s.openAPI)
}
