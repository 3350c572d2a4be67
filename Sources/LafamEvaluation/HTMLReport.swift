import Foundation

/// One self-contained HTML page: images inline as `data:` URIs, styles and the small script that
/// sorts tables in the page itself, so it works offline, opened from disk, and can be mailed or
/// archived as one file. `run --html` and `eval --html` build it; programs can too.
public struct HTMLReport {
    /// A picture on the page: encoded PNG or JPEG bytes and what it shows.
    public struct Picture {
        /// What the picture shows; written below it and used as its alt text.
        public var caption: String
        /// The encoded image file, embedded in the page as a `data:` URI.
        public var bytes: [UInt8]
        /// `image/png` or `image/jpeg`.
        public var mimeType: String

        /// A picture from its caption, encoded bytes and their MIME type.
        public init(caption: String, bytes: [UInt8], mimeType: String) {
            self.caption = caption
            self.bytes = bytes
            self.mimeType = mimeType
        }
    }

    /// A table of rows of cells; `sortable` adds click-to-sort headers (numbers sort numerically).
    public struct Table {
        /// The column titles.
        public var header: [String]
        /// The rows, each a cell per column.
        public var rows: [[Cell]]
        /// Whether clicking a column title sorts the rows by it (default true).
        public var sortable: Bool

        /// A table of `rows` under `header`, sortable unless `sortable` is false.
        public init(header: [String], rows: [[Cell]], sortable: Bool = true) {
            self.header = header
            self.rows = rows
            self.sortable = sortable
        }
    }

    /// A table cell: text, a number shown with `digits` decimals (sorted by its value), or a picture.
    public enum Cell {
        /// Plain text, HTML-escaped.
        case text(String)
        /// A number shown with `digits` decimals; nil or a non-finite value shows as "–" and sorts last.
        case number(Double?, digits: Int)
        /// A picture, shown 96 px high.
        case picture(Picture)
    }

    /// The page title (also the first heading).
    public var title: String
    private var body: [String] = []

    /// An empty report; `lines` appear under the title (model, date, command).
    public init(title: String, lines: [String] = []) {
        self.title = title
        body.append("<h1>\(Self.escape(title))</h1>")
        if !lines.isEmpty { body.append("<p class=\"meta\">" + lines.map(Self.escape).joined(separator: "<br>") + "</p>") }
    }

    /// A section heading.
    public mutating func heading(_ text: String) { body.append("<h2>\(Self.escape(text))</h2>") }

    /// A paragraph of text.
    public mutating func paragraph(_ text: String) { body.append("<p>\(Self.escape(text))</p>") }

    /// Pictures side by side (wrapping), each with its caption below, shown at most `maxWidth`
    /// pixels wide (the full pictures are in the page: a click opens them).
    public mutating func pictures(_ pictures: [Picture], maxWidth: Int? = nil) {
        let limit = maxWidth.map { " style=\"max-width:\($0)px\"" } ?? ""
        body.append("<div class=\"pictures\">" + pictures.map { p in
            "<figure\(limit)>\(Self.image(p))<figcaption>\(Self.escape(p.caption))</figcaption></figure>"
        }.joined() + "</div>")
    }

    /// A table.
    public mutating func table(_ table: Table) {
        var html = "<table\(table.sortable ? " class=\"sortable\"" : "")><thead><tr>"
        html += table.header.map { "<th>\(Self.escape($0))</th>" }.joined() + "</tr></thead><tbody>"
        for row in table.rows {
            html += "<tr>" + row.map { cell -> String in
                switch cell {
                case .text(let s): return "<td>\(Self.escape(s))</td>"
                case .number(let v?, let digits) where v.isFinite:
                    return "<td class=\"num\" data-value=\"\(v)\">\(String(format: "%.\(digits)f", v))</td>"
                case .number: return "<td class=\"num\" data-value=\"\">–</td>"
                case .picture(let p): return "<td>\(Self.image(p, height: 96))</td>"
                }
            }.joined() + "</tr>"
        }
        body.append(html + "</tbody></table>")
    }

    /// The whole page.
    public func html() -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(Self.escape(title))</title>
        <meta name="generator" content="lafam">
        <style>\(Self.style)</style></head>
        <body>
        \(body.joined(separator: "\n"))
        <script>\(Self.script)</script>
        </body></html>

        """
    }

    /// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML.
    public static func escape(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    private static func image(_ p: Picture, height: Int? = nil) -> String {
        let size = height.map { " style=\"height:\($0)px\"" } ?? ""
        return "<img alt=\"\(escape(p.caption))\"\(size) src=\"data:\(p.mimeType);base64,\(Data(p.bytes).base64EncodedString())\">"
    }

    private static let style = """
        body{font-family:system-ui,-apple-system,"DejaVu Sans",sans-serif;margin:24px;color:#222;max-width:1800px}
        h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
        .meta{color:#555;font-size:13px}.pictures{display:flex;flex-wrap:wrap;gap:12px}
        figure{margin:0}figure img{max-width:100%;border:1px solid #ddd}figcaption{font-size:12px;color:#555;max-width:420px}
        table{border-collapse:collapse;font-size:13px;margin:8px 0}th,td{border:1px solid #ddd;padding:4px 8px;vertical-align:middle}
        th{background:#f4f4f4;position:sticky;top:0}table.sortable th{cursor:pointer}table.sortable th:after{content:" ⇅";color:#aaa}
        td.num{text-align:right;font-variant-numeric:tabular-nums}tr:nth-child(even) td{background:#fafafa}
        """

    /// Click a header to sort by that column; click again to reverse. Numbers by value, missing
    /// last. Once loaded, the page records on its root element how many of its images decoded
    /// (`data-images="ok/total"`), which tools/check-html.sh reads in a headless browser.
    private static let script = """
        window.addEventListener("load",function(){var all=document.images,ok=0;
          for(var i=0;i<all.length;i++){if(all[i].complete&&all[i].naturalWidth>0)ok++}
          document.documentElement.dataset.images=ok+"/"+all.length});
        document.querySelectorAll("table.sortable").forEach(function(t){
          t.querySelectorAll("th").forEach(function(th,i){
            th.addEventListener("click",function(){
              var body=t.tBodies[0],rows=Array.from(body.rows),up=th.dataset.dir!=="up";
              t.querySelectorAll("th").forEach(function(h){delete h.dataset.dir});th.dataset.dir=up?"up":"down";
              function key(r){var c=r.cells[i];if(c.dataset.value!==undefined){return c.dataset.value===""?null:parseFloat(c.dataset.value)}return c.textContent}
              rows.sort(function(a,b){var x=key(a),y=key(b);if(x===null)return 1;if(y===null)return -1;
                var d=(typeof x==="number")?x-y:String(x).localeCompare(String(y));return up?d:-d});
              rows.forEach(function(r){body.appendChild(r)});
            });
          });
        });
        """
}
