//! A report as one self-contained HTML page: no script, no external style or font, so an
//! investigator can open it offline, archive it and print it as it is.
//!
//! An incident's path is drawn as an inline SVG graph, host after host; every table is
//! plain HTML. Every value from the lake is escaped.

use std::fmt::Write as _;

use super::queries::text;
use super::{Report, Section};

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#1b1f24}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.15em;margin-top:2em}\
table{border-collapse:collapse;margin:.5em 0;font-size:12.5px}\
th,td{border:1px solid #c9ced6;padding:3px 7px;text-align:left;vertical-align:top}\
th{background:#eef1f5}tr.flag td{background:#fff1e6}\
dl{display:grid;grid-template-columns:max-content auto;gap:2px 16px}dt{font-weight:600}\
dd{margin:0}footer{margin-top:3em;color:#59636e;font-size:12px}\
td.long{max-width:38em;word-break:break-all}svg{margin:1em 0}";

/// The page.
pub fn page(report: &Report) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n<dl>\n",
        escape(&report.title),
        escape(&report.title)
    );
    for (label, value) in &report.facts {
        let _ = writeln!(out, "<dt>{}</dt><dd>{}</dd>", escape(label), escape(value));
    }
    out.push_str("</dl>\n");
    if !report.path.is_empty() {
        out.push_str("<h2>Path</h2>\n");
        out.push_str(&path_svg(&report.path));
    }
    for section in &report.sections {
        out.push_str(&table(section));
    }
    let _ = write!(
        out,
        "<footer>Made by ward at {} from the lake {}, manifest head {}. \
         <code>ward verify --lake {} --expect-head {}</code> proves the lake still holds \
         what this report was made from.</footer>\n</body></html>\n",
        escape(&report.generated.to_rfc3339()),
        escape(&report.lake),
        escape(&report.head),
        escape(&report.lake),
        escape(&report.head)
    );
    out
}

fn table(section: &Section) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>{} <small>({} rows)</small></h2>",
        escape(&section.title),
        section.rows.len()
    );
    if section.rows.is_empty() {
        return out;
    }
    out.push_str("<table><thead><tr>");
    for column in &section.columns {
        let _ = write!(out, "<th>{}</th>", escape(column));
    }
    out.push_str("</tr></thead><tbody>\n");
    for row in &section.rows {
        // Rows that belong to an incident or that a rule flagged stand out.
        let flagged = ["incident", "rules"]
            .iter()
            .any(|key| !text(row, key).is_empty());
        out.push_str(if flagged {
            "<tr class=\"flag\">"
        } else {
            "<tr>"
        });
        for column in &section.columns {
            let value = text(row, column);
            let class = if value.len() > 60 {
                " class=\"long\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(&value));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n");
    out
}

/// The hosts as boxes left to right, joined by arrows in the order they were reached.
fn path_svg(path: &[String]) -> String {
    const BOX_WIDTH: usize = 150;
    const GAP: usize = 60;
    let width = path.len() * BOX_WIDTH + path.len().saturating_sub(1) * GAP + 20;
    let mut out = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"80\" \
         role=\"img\" aria-label=\"incident path\">\
         <defs><marker id=\"arrow\" markerWidth=\"10\" markerHeight=\"8\" refX=\"9\" \
         refY=\"4\" orient=\"auto\"><path d=\"M0,0 L10,4 L0,8 z\" fill=\"#b42318\"/>\
         </marker></defs>"
    );
    for (i, host) in path.iter().enumerate() {
        let x = 10 + i * (BOX_WIDTH + GAP);
        let fill = if i == 0 { "#fff1e6" } else { "#fde2e1" };
        let _ = write!(
            out,
            "<rect x=\"{x}\" y=\"20\" width=\"{BOX_WIDTH}\" height=\"40\" rx=\"6\" \
             fill=\"{fill}\" stroke=\"#b42318\"/><text x=\"{}\" y=\"45\" \
             text-anchor=\"middle\" font-size=\"13\">{}</text>",
            x + BOX_WIDTH / 2,
            escape(host)
        );
        if i + 1 < path.len() {
            let start = x + BOX_WIDTH;
            let _ = write!(
                out,
                "<line x1=\"{start}\" y1=\"40\" x2=\"{}\" y2=\"40\" stroke=\"#b42318\" \
                 stroke-width=\"2\" marker-end=\"url(#arrow)\"/>",
                start + GAP - 2
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

/// Text safe inside HTML elements and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_in_values_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
