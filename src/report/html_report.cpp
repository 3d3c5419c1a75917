// The HTML report: one self-contained file (no network, no external script) that opens from
// disk. The data sits in the page as columnar JSON; a small script draws the plot of rel L2
// and growth per pair in execution order on a canvas, pages the table (sortable, filterable,
// only-diff toggle) so that 100,000 pairs open fast, and shows a pair's fields and histograms
// when its row is clicked.
#include <cmath>
#include <string>

#include "common/format.hpp"
#include "report/json_writer.hpp"
#include "tensordiff/tensordiff.hpp"

namespace tensordiff {

namespace {

// JSON inside <script>: "</" would end the element.
std::string script_safe(const std::string& json) {
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    if (json[i] == '<' && i + 1 < json.size() && json[i + 1] == '/') out += "<\\/", ++i;
    else out += json[i];
  }
  return out;
}

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '&': out += "&amp;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

void hist(JsonWriter& w, const SparseHistogram& h) {
  w.begin_array();
  for (const auto& [bin, c] : h.bins) {
    w.begin_array();
    w.value(static_cast<int64_t>(bin));
    w.value(c);
    w.end_array();
  }
  w.end_array();
}

// Columnar: one array per field, index = row in execution order.
std::string data_json(const Report& rep) {
  std::string text;
  JsonWriter w(text);
  w.begin_object();
  w.key("a").value(rep.input_a);
  w.key("b").value(rep.input_b);
  const Summary& s = rep.summary;
  w.key("first_divergence").value(s.first_divergence.value_or(""));
  w.key("first_jump").value(s.first_jump.value_or(""));
  w.key("jumps").begin_array();
  for (const auto& j : s.jumps) w.value(j);
  w.end_array();
  w.key("precision").value(s.precision);
  w.key("hist_first_exp").value(static_cast<int64_t>(ExpHistogram::kMinExp));
  w.key("hist_zero").value(static_cast<int64_t>(ExpHistogram::kZero));
  w.key("hist_under").value(static_cast<int64_t>(ExpHistogram::kUnderflow));
  w.key("hist_over").value(static_cast<int64_t>(ExpHistogram::kOverflow));
  w.key("hist_first_bin").value(static_cast<int64_t>(ExpHistogram::kFirstExp));
  auto column = [&](const char* key, auto get) {
    w.key(key).begin_array();
    for (const auto& r : rep.tensors) get(r);
    w.end_array();
  };
  auto opt = [&](const std::optional<double>& v) {
    if (v && std::isfinite(*v)) w.value(*v);
    else w.null();
  };
  column("name", [&](const PairReport& r) { w.value(r.name); });
  column("order", [&](const PairReport& r) { w.value(r.order); });
  column("status", [&](const PairReport& r) { w.value(std::string(status_name(r.status))); });
  column("reason", [&](const PairReport& r) { w.value(r.reason); });
  column("dtype", [&](const PairReport& r) {
    const std::string a = r.info_a ? r.info_a->type_name : "-", b = r.info_b ? r.info_b->type_name : "-";
    w.value(a == b ? a : a + "/" + b);
  });
  column("shape", [&](const PairReport& r) {
    const TensorInfo* t = r.info_a ? &*r.info_a : r.info_b ? &*r.info_b : nullptr;
    w.value("(" + (t ? join_numbers(t->shape, ", ") : std::string()) + ")");
  });
  column("rel_l2", [&](const PairReport& r) { opt(r.diff ? std::optional<double>(r.diff->rel_l2) : std::nullopt); });
  column("cosine", [&](const PairReport& r) { opt(r.diff ? std::optional<double>(r.diff->cosine) : std::nullopt); });
  column("max_abs", [&](const PairReport& r) {
    opt(r.diff && r.diff->max_abs ? std::optional<double>(r.diff->max_abs->value) : std::nullopt);
  });
  column("max_rel", [&](const PairReport& r) {
    opt(r.diff && r.diff->max_rel ? std::optional<double>(r.diff->max_rel->value) : std::nullopt);
  });
  column("mismatches", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->mismatches);
    else w.null();
  });
  column("count", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->count);
    else w.null();
  });
  // NaN/inf mismatches, which max|d|, rel L2 and cosine (finite pairs) do not show.
  column("nonfinite", [&](const PairReport& r) {
    if (r.diff) w.value(r.diff->nan_mismatch + r.diff->inf_mismatch);
    else w.null();
  });
  column("growth", [&](const PairReport& r) { opt(r.growth); });
  column("scale", [&](const PairReport& r) { opt(r.scale); });
  column("jump", [&](const PairReport& r) { w.value(r.jump); });
  column("source", [&](const PairReport& r) {
    w.value(r.info_b && !r.info_b->source.empty() ? r.info_b->source : r.info_a ? r.info_a->source : "");
  });
  column("err_hist", [&](const PairReport& r) {
    if (r.diff) hist(w, r.diff->err_hist);
    else w.null();
  });
  column("hist_a", [&](const PairReport& r) {
    if (r.a && r.a->counts_known) hist(w, r.a->mag_hist);
    else w.null();
  });
  column("hist_b", [&](const PairReport& r) {
    if (r.b && r.b->counts_known) hist(w, r.b->mag_hist);
    else w.null();
  });
  w.end_object();
  return text;
}

constexpr const char* kStyle = R"CSS(
body{font:14px system-ui,sans-serif;margin:16px;color:#222}
h1{font-size:18px;margin:0 0 8px}
.sum{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px;background:#f6f6f6;padding:8px}
.fd{color:#b00}.fj{color:#b60}
#plotbox{position:relative}
canvas{border:1px solid #ddd;width:100%;height:260px}
.legend span{margin-right:16px;font-size:12px}
table{border-collapse:collapse;width:100%;font-size:12px;margin-top:8px}
th{background:#eee;cursor:pointer;text-align:left;position:sticky;top:0}
td,th{padding:2px 6px;border-bottom:1px solid #eee;white-space:nowrap}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.mismatch td{color:#b00}tr.fd td{font-weight:bold}tr:hover{background:#fafae0;cursor:pointer}
#detail{font-size:12px;margin-top:12px}
.bars div{display:flex;align-items:center;height:14px}.bars span{width:70px;text-align:right;margin-right:6px}
.bars i{display:inline-block;height:10px;background:#68a}
)CSS";

constexpr const char* kScript = R"JS(
(function(){
'use strict';
window.onerror=function(m){document.body.dataset.errors=(document.body.dataset.errors||'')+m+';';};
var D=JSON.parse(document.getElementById('data').textContent);
var N=D.name.length;
function g(v){if(v===null||v===undefined)return'';if(v===0)return'0';var a=Math.abs(v);
 return (a>=1e4||a<1e-3)?v.toExponential(2):(+v.toPrecision(4)).toString();}
// Plot: log10 rel L2 (blue) and log10 growth (green) per pair in execution order.
var cv=document.getElementById('cv'),W=cv.clientWidth||900,H=260;cv.width=W;cv.height=H;
var c=cv.getContext('2d'),pts=[],lo=Infinity,hi=-Infinity;
for(var i=0;i<N;i++){var v=D.rel_l2[i];if(v===null)continue;var y=Math.log10(Math.max(v,1e-30));
 pts.push([i,y,D.growth[i]]);if(v>0){lo=Math.min(lo,y);hi=Math.max(hi,y);}}
if(!isFinite(lo)){lo=-8;hi=0;}if(hi-lo<1){hi+=0.5;lo-=0.5;}
function X(i){return 40+(W-50)*(N>1?i/(N-1):0.5);}function Y(y){return H-20-(H-30)*(Math.max(y,lo)-lo)/(hi-lo);}
c.strokeStyle='#ccc';c.fillStyle='#666';c.font='10px sans-serif';
for(var e=Math.ceil(lo);e<=Math.floor(hi);e++){c.beginPath();c.moveTo(40,Y(e));c.lineTo(W-10,Y(e));c.stroke();c.fillText('1e'+e,2,Y(e)+3);}
function mark(name,color){var k=D.name.indexOf(name);if(k<0)return;c.strokeStyle=color;c.beginPath();c.moveTo(X(k),10);c.lineTo(X(k),H-20);c.stroke();}
for(var j=0;j<N;j++)if(D.jump[j]){c.strokeStyle='#e90';c.beginPath();c.moveTo(X(j)+1,10);c.lineTo(X(j)+1,H-20);c.stroke();}
mark(D.first_divergence,'#d33');
c.fillStyle='#36c';for(var p=0;p<pts.length;p++){c.fillRect(X(pts[p][0])-1.5,Y(pts[p][1])-1.5,3,3);}
c.fillStyle='#3a3';for(p=0;p<pts.length;p++){var gr=pts[p][2];if(gr===null)continue;
 var gy=Math.log10(Math.max(gr,1e-30));c.fillRect(X(pts[p][0])-1,H-20-(H-30)*Math.min(Math.max((gy+1)/6,0),1)-1,2,2);}
document.getElementById('plotbox').dataset.points=pts.length;
// Table: sortable, filterable, paged.
var cols=[['order','#'],['name','name'],['dtype','dtype'],['shape','shape'],['max_abs','max|d|'],['max_rel','max rel'],
 ['rel_l2','rel L2'],['cosine','cosine'],['mismatches','mismatched'],['growth','growth'],['status','status']];
var idx=[],sortKey=null,asc=true,page=0,PER=200;
function rebuild(){var f=document.getElementById('filter').value.toLowerCase(),od=document.getElementById('onlydiff').checked;
 idx=[];for(var i=0;i<N;i++){if(od&&D.status[i]==='match')continue;if(f&&D.name[i].toLowerCase().indexOf(f)<0)continue;idx.push(i);}
 if(sortKey){var col=D[sortKey];idx.sort(function(a,b){var x=col[a],y=col[b];if(x===y)return a-b;if(x===null)return 1;if(y===null)return -1;
  return (x<y?-1:1)*(asc?1:-1);});}
 page=0;draw();}
function draw(){var tb=document.getElementById('tb'),h=[];var start=page*PER,end=Math.min(idx.length,start+PER);
 for(var k=start;k<end;k++){var i=idx[k],cl=D.status[i]==='mismatch'?'mismatch':'';if(D.name[i]===D.first_divergence)cl+=' fd';
  var row='<tr class="'+cl+'" data-i="'+i+'">';
  for(var j=0;j<cols.length;j++){var key=cols[j][0],v=D[key][i],num=typeof v==='number';
   var t=key==='mismatches'&&v!==null?v+'/'+D.count[i]:key==='growth'&&v!==null?'x'+g(v):num?g(v):(v===null?'':String(v));
   if(key==='status'&&D.nonfinite[i])t+=' ('+D.nonfinite[i]+' NaN/inf)';
   if(key==='name'){var m=(D.name[i]===D.first_divergence?'&gt;':'')+(D.jump[i]?'*':'');t=m+' '+esc(t);}else t=esc(t);
   row+='<td'+(num?' class="n"':'')+'>'+t+'</td>';}
  h.push(row+'</tr>');}
 tb.innerHTML=h.join('');
 document.getElementById('pager').textContent=idx.length?('rows '+(start+1)+'-'+end+' of '+idx.length):'no rows';}
function esc(s){return s.replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;');}
var hr=document.getElementById('hr');hr.innerHTML=cols.map(function(c){return '<th data-k="'+c[0]+'">'+c[1]+'</th>';}).join('');
hr.onclick=function(e){var k=e.target.dataset.k;if(!k)return;if(sortKey===k)asc=!asc;else{sortKey=k;asc=k==='order'||k==='name';}rebuild();};
document.getElementById('filter').oninput=rebuild;document.getElementById('onlydiff').onchange=rebuild;
document.getElementById('prev').onclick=function(){if(page>0){page--;draw();}};
document.getElementById('next').onclick=function(){if((page+1)*PER<idx.length){page++;draw();}};
function label(b){if(b===D.hist_zero)return'0';if(b===D.hist_under)return'<2^'+D.hist_first_exp;if(b===D.hist_over)return'big';
 return '2^'+(D.hist_first_exp+(b-D.hist_first_bin));}
function bars(title,h){if(!h||!h.length)return '<p>'+title+': (none)</p>';var top=0;h.forEach(function(x){top=Math.max(top,x[1]);});
 return '<p><b>'+title+'</b></p><div class="bars">'+h.map(function(x){return '<div><span>'+label(x[0])+'</span><i style="width:'+
  Math.max(1,Math.round(300*x[1]/top))+'px"></i>&nbsp;'+x[1]+'</div>';}).join('')+'</div>';}
document.getElementById('tb').onclick=function(e){var tr=e.target.closest('tr');if(!tr)return;var i=+tr.dataset.i;
 var f=['name','status','reason','dtype','shape','max_abs','max_rel','rel_l2','cosine','mismatches','count','growth','scale','source'];
 var html='<h2>'+esc(D.name[i])+'</h2><table>'+f.map(function(k){var v=D[k][i];return '<tr><td>'+k+'</td><td>'+esc(v===null?'':typeof v==='number'?g(v):String(v))+'</td></tr>';}).join('')+'</table>';
 html+=bars('|b - a| (error magnitude)',D.err_hist[i])+bars('|a|',D.hist_a[i])+bars('|b|',D.hist_b[i]);
 document.getElementById('detail').innerHTML=html;};
rebuild();
document.body.dataset.ready='1';
})();
)JS";

}  // namespace

void write_html(const Report& rep, const TextSink& sink) {
  const Summary& s = rep.summary;
  std::string head = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>tensordiff: " +
                     html_escape(rep.input_a) + " vs " + html_escape(rep.input_b) + "</title>\n<style>" + kStyle +
                     "</style></head>\n<body>\n<h1>tensordiff: " + html_escape(rep.input_a) + " vs " +
                     html_escape(rep.input_b) + "</h1>\n";
  // The summary as the terminal prints it (no colour, no width limit).
  const std::string text = format_summary(rep, TableStyle{});
  std::string sum;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    const std::string line = text.substr(start, end - start);
    const char* cls = line.rfind("first divergence", 0) == 0 ? "fd" : line.rfind("first jump", 0) == 0 ? "fj" : "";
    sum += *cls ? "<span class=\"" + std::string(cls) + "\">" + html_escape(line) + "</span>\n" : html_escape(line) + "\n";
    start = end + 1;
  }
  sink(head + "<div class=\"sum\">" + sum + "</div>\n");
  sink("<div class=\"legend\"><span style=\"color:#36c\">&#9632; rel L2 (log scale)</span>"
       "<span style=\"color:#3a3\">&#9632; growth (log, 0.1 to 10^5)</span><span style=\"color:#d33\">| first "
       "divergence</span><span style=\"color:#e90\">| first jump</span></div>\n"
       "<div id=\"plotbox\"><canvas id=\"cv\"></canvas></div>\n"
       "<div><input id=\"filter\" placeholder=\"filter names\"> <label><input type=\"checkbox\" id=\"onlydiff\"> "
       "only pairs that differ</label> <button id=\"prev\">&lt;</button> <span id=\"pager\"></span> "
       "<button id=\"next\">&gt;</button></div>\n"
       "<table><thead><tr id=\"hr\"></tr></thead><tbody id=\"tb\"></tbody></table>\n<div id=\"detail\"></div>\n");
  sink("<script id=\"data\" type=\"application/json\">" + script_safe(data_json(rep)) + "</script>\n");
  sink(std::string("<script>") + kScript + "</script>\n</body></html>\n");
  (void)s;
}

}  // namespace tensordiff
