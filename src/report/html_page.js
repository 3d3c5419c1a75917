// The HTML report's script (compiled into the writer: src/report/CMakeLists.txt). It reads the
// columnar JSON of the element #data (index = row in execution order), draws the two plots,
// builds the paged table, and opens a row's details from the headline's links, the plots or a
// click. No network: everything it needs is in the page.
(function(){
'use strict';
window.onerror=function(m){document.body.dataset.errors=(document.body.dataset.errors||'')+m+';';};
var D=JSON.parse(document.getElementById('data').textContent);
var N=D.name.length;
function $(id){return document.getElementById(id);}
function esc(s){return String(s).replace(/&/g,'&amp;').replace(/</g,'&lt;').replace(/>/g,'&gt;').replace(/"/g,'&quot;');}
var FD=D.first_divergence?D.name.indexOf(D.first_divergence):-1;

// ---- Numbers ----
// Table cells: four significant digits, exponent form below 1e-3 and from 1e4.
function g(v){if(v===null||v===undefined)return'';if(v===0)return'0';var a=Math.abs(v);
 return (a>=1e4||a<1e-3)?v.toExponential(3).replace(/\.?0+e/,'e'):(+v.toPrecision(4)).toString();}
// Every digit: the shortest text that reads back as the same double.
function full(v){return v===null||v===undefined?'':String(v);}
// A cosine near 1 as "1 − x", so that 0.9999955 never reads as 1 (digits: x's; 0: every one).
function cos(v,digits){if(v===null||v===undefined)return'';if(v===1)return'1';var x=1-v;
 if(x>0&&x<1e-3)return '1 \u2212 '+(digits?x.toExponential(digits-1):x.toExponential());
 return digits?v.toFixed(8):String(v);}
function growth(v){return v===null||v===undefined?'':'x'+g(v);}

// ---- Plots: rel L2 and growth on log scales of their own, one x axis (execution order) ----
var L=62,R=14,cvs=[$('cv-rel'),$('cv-growth')],tip=$('tip');
function X(i,W){return L+(W-L-R)*(N>1?i/(N-1):0.5);}
function lg(v){return Math.log10(Math.max(v,1e-30));}
// The decades [lo, hi] that hold the column's positive values and `extra`; zeros get a band of
// their own below lo, labelled 0 (a log scale has no place for them).
function range(col,extra,floor){var lo=Infinity,hi=-Infinity,zero=false;
 for(var i=0;i<N;i++){var v=col[i];if(v===0)zero=true;if(v===null||!(v>0))continue;var y=lg(v);if(y<lo)lo=y;if(y>hi)hi=y;}
 extra.forEach(function(v){if(v>0){lo=Math.min(lo,lg(v));hi=Math.max(hi,lg(v));}});
 if(!isFinite(lo)){lo=-8;hi=0;}lo=Math.max(Math.floor(lo),floor);hi=Math.max(Math.ceil(hi),lo+1);
 return zero?[lo-1,hi,lo-1]:[lo,hi,null];}
function niceStep(n){var s=Math.pow(10,Math.floor(Math.log10(Math.max(n,1))));
 return n/s>=5?5*s:n/s>=2?2*s:s;}
var jumps=[];for(var j=0;j<N;j++)if(D.jump[j])jumps.push(j);
var plots=[
 {cv:cvs[0],col:D.rel_l2,title:'rel L2',top:30,bottom:6,ref:D.unit_roundoff,refText:'unit roundoff ('+D.precision+')',
  range:range(D.rel_l2,[D.unit_roundoff],-30)},
 {cv:cvs[1],col:D.growth,title:'growth',top:8,bottom:34,ref:8,refText:'x8',range:range(D.growth,[1,8],-3),xaxis:true}];
function drawPlot(p){
 var cv=p.cv,W=cv.clientWidth||900,H=cv.clientHeight||200,dpr=window.devicePixelRatio||1;
 cv.width=Math.round(W*dpr);cv.height=Math.round(H*dpr);var c=cv.getContext('2d');c.setTransform(dpr,0,0,dpr,0,0);
 var lo=p.range[0],hi=p.range[1],y0=p.top,y1=H-p.bottom;
 function Y(y){return y1-(y1-y0)*(Math.min(Math.max(y,lo),hi)-lo)/(hi-lo);}
 p.W=W;p.Y=Y;
 c.font='11px system-ui,sans-serif';c.lineWidth=1;
 // y axis: decades (every other one when there are many), the title turned on its side
 var every=hi-lo>10?2:1;c.textAlign='right';c.textBaseline='middle';
 for(var e=lo;e<=hi;e++){c.strokeStyle=e===0?'#bbb':'#eee';c.beginPath();c.moveTo(L,Y(e)+.5);c.lineTo(W-R,Y(e)+.5);c.stroke();
  if((e-lo)%every===0||e===p.range[2]){c.fillStyle='#555';c.fillText(e===p.range[2]?'0':e===0?'1':'1e'+e,L-6,Y(e));}}
 c.save();c.translate(13,(y0+y1)/2);c.rotate(-Math.PI/2);c.textAlign='center';c.fillStyle='#222';
 c.font='600 11px system-ui,sans-serif';c.fillText(p.title+' (log)',0,0);c.restore();
 // the reference line: the run's unit roundoff, the growth rule's x8
 if(p.ref>0){var ry=Math.round(Y(lg(p.ref)))+.5;c.strokeStyle='#888';c.setLineDash([4,4]);c.beginPath();c.moveTo(L,ry);
  c.lineTo(W-R,ry);c.stroke();c.setLineDash([]);c.fillStyle='#666';c.textAlign='right';c.textBaseline='bottom';
  c.fillText(p.refText,W-R-2,ry-1);}
 // x axis (the lower plot): ticks at round positions, labelled with the pair's order
 if(p.xaxis){var step=niceStep(Math.max(1,(N-1)/10));c.fillStyle='#555';c.textAlign='center';c.textBaseline='top';
  c.strokeStyle='#999';c.beginPath();c.moveTo(L,y1+.5);c.lineTo(W-R,y1+.5);c.stroke();
  for(var t=0;t<N;t+=step){var tx=Math.round(X(t,W))+.5;c.beginPath();c.moveTo(tx,y1);c.lineTo(tx,y1+4);c.stroke();
   c.fillText(String(D.order[t]),tx,y1+5);}
  c.fillStyle='#222';c.font='600 11px system-ui,sans-serif';c.fillText('execution order (#)',L+(W-L-R)/2,y1+19);
  c.font='11px system-ui,sans-serif';}
 // the marks: every jump dashed orange, the first divergence solid red; both show where they coincide
 c.lineWidth=2;
 if(FD>=0){var fx=Math.round(X(FD,W));c.strokeStyle='#d22';c.beginPath();c.moveTo(fx,y0-(p.xaxis?0:8));c.lineTo(fx,y1);c.stroke();}
 c.setLineDash([5,4]);c.strokeStyle='#e80';
 p.marks=0;
 jumps.forEach(function(k){var jx=Math.round(X(k,W));c.beginPath();c.moveTo(jx,y0-(p.xaxis?0:8));c.lineTo(jx,y1);c.stroke();p.marks++;});
 c.setLineDash([]);c.lineWidth=1;
 if(!p.xaxis){  // flags above the upper plot: the divergence on the first line, the jumps on the second
  c.textBaseline='middle';c.font='600 11px system-ui,sans-serif';
  var flag=function(x,y,color,text){c.fillStyle=color;c.beginPath();c.moveTo(x-5,y-5);c.lineTo(x+5,y-5);c.lineTo(x,y+3);c.fill();
   var w=c.measureText(text).width;c.textAlign=x+8+w>W-R?'right':'left';c.fillText(text,x+(c.textAlign==='left'?8:-8),y-1);};
  if(FD>=0)flag(X(FD,W),8,'#d22','first divergence');
  jumps.forEach(function(k,n){flag(X(k,W),21,'#d70',n===0?'first jump':'jump');});
  c.font='11px system-ui,sans-serif';}
 // the points
 var drawn=0;
 for(var i=0;i<N;i++){var v=p.col[i];if(v===null)continue;drawn++;
  c.fillStyle=p.xaxis?'#2a2':(D.status[i]==='match'||D.status[i]==='consistent'?'#36c':'#c33');
  c.fillRect(X(i,W)-1.5,(v===0?Y(lo):Y(lg(v)))-1.5,3,3);}
 return drawn;}
function drawPlots(){var n=drawPlot(plots[0]);drawPlot(plots[1]);var box=$('plotbox');box.dataset.points=n;
 // what was drawn, for the tests: points, jump lines (on both plots), the divergence's row
 box.dataset.jumps=Math.min(plots[0].marks,plots[1].marks);box.dataset.divergence=FD;}
function nearest(e){var r=e.target.getBoundingClientRect(),W=r.width,x=e.clientX-r.left;if(N===0)return -1;
 return Math.max(0,Math.min(N-1,Math.round((x-L)/(W-L-R)*(N-1))));}
cvs.forEach(function(cv){
 cv.onmousemove=function(e){var i=nearest(e);if(i<0)return;
  var marks=(i===FD?' \u00b7 first divergence':'')+(D.jump[i]?(D.name[i]===D.first_jump?' \u00b7 first jump':' \u00b7 jump'):'');
  tip.innerHTML='<b>'+esc(D.name[i])+'</b> #'+D.order[i]+marks+'<br>rel L2 '+g(D.rel_l2[i])+' \u00b7 growth '+
   (growth(D.growth[i])||'-')+' \u00b7 cosine '+cos(D.cosine[i],2)+' \u00b7 '+esc(D.status[i]);
  tip.hidden=false;var box=$('plotbox').getBoundingClientRect(),x=e.clientX-box.left,y=e.clientY-box.top;
  tip.style.top=(y+14)+'px';tip.style.left='0px';var w=tip.offsetWidth;
  tip.style.left=Math.max(0,Math.min(x+12,box.width-w-4))+'px';};
 cv.onmouseleave=function(){tip.hidden=true;};
 cv.onclick=function(e){var i=nearest(e);if(i>=0)openRow(i);};});

// ---- Table: sortable, filterable, paged ----
var cols=[['order','#'],['name','name'],['dtype','dtype'],['shape','shape'],['max_abs','max|d|'],['max_rel','max rel'],
 ['rel_l2','rel L2'],['cosine','cosine'],['mismatches','mismatched'],['growth','growth'],['status','status']];
var idx=[],sortKey=null,asc=true,page=0,PER=200,sel=-1;
function differs(i){return D.status[i]!=='match'&&D.status[i]!=='consistent';}
function filterIdx(){var f=$('filter').value.toLowerCase(),od=$('onlydiff').checked;
 idx=[];for(var i=0;i<N;i++){if(od&&D.status[i]==='match')continue;if(f&&D.name[i].toLowerCase().indexOf(f)<0)continue;idx.push(i);}
 if(sortKey){var col=D[sortKey];idx.sort(function(a,b){var x=col[a],y=col[b];if(x===y)return a-b;if(x===null)return 1;if(y===null)return -1;
  return (x<y?-1:1)*(asc?1:-1);});}}
function rebuild(){filterIdx();page=0;draw();}
// What the status cell adds: NaN/inf mismatches, a copy, a gap, a recorded value.
function notes(i){var t=[];if(D.nonfinite[i])t.push(D.nonfinite[i]+' NaN/inf');
 if(D.copy_of[i]!==null)t.push('copy of '+D.copy_of[i]);if(D.gap_after[i]!==null)t.push('made after '+D.gap_after[i]);
 if(D.value_a[i]!==null||D.value_b[i]!==null)t.push('a '+(D.value_a[i]===null?'-':D.value_a[i])+', b '+(D.value_b[i]===null?'-':D.value_b[i]));
 return t;}
function cell(key,i){var v=D[key][i];
 if(key==='mismatches')return v===null?'':v+'/'+D.count[i];
 if(key==='growth')return growth(v);if(key==='cosine')return cos(v,2);
 if(key==='status'){var n=notes(i);return esc(v)+(n.length?' <span class="sub">('+esc(n.join('; '))+')</span>':'');}
 if(key==='name')return '<span class="mk fd" title="first divergence">'+(i===FD?'&gt;':'')+'</span><span class="mk j" title="jump">'+
  (D.jump[i]?'*':'')+'</span>'+esc(v);
 return esc(typeof v==='number'?g(v):v===null?'':v);}
function draw(){var tb=$('tb'),h=[],start=page*PER,end=Math.min(idx.length,start+PER);
 for(var k=start;k<end;k++){var i=idx[k],cl=(differs(i)?'mismatch':'')+(i===FD?' fd':'')+(D.jump[i]?' jump':'')+(i===sel?' sel':'');
  var row='<tr id="tr-'+i+'" class="'+cl+'" data-i="'+i+'">';
  for(var j=0;j<cols.length;j++){var key=cols[j][0];row+='<td'+(typeof D[key][i]==='number'?' class="n"':'')+'>'+cell(key,i)+'</td>';}
  h.push(row+'</tr>');}
 tb.innerHTML=h.join('');
 $('pager').textContent=idx.length?('rows '+(start+1)+'-'+end+' of '+idx.length):'no rows';}
var hr=$('hr');hr.innerHTML=cols.map(function(c){return '<th data-k="'+c[0]+'">'+c[1]+'</th>';}).join('');
hr.onclick=function(e){var k=e.target.dataset.k;if(!k)return;if(sortKey===k)asc=!asc;else{sortKey=k;asc=k==='order'||k==='name';}rebuild();};
$('filter').oninput=rebuild;$('onlydiff').onchange=rebuild;
$('prev').onclick=function(){if(page>0){page--;draw();}};
$('next').onclick=function(){if((page+1)*PER<idx.length){page++;draw();}};
// The page of the table that holds row i (the filter and the switch let go of it if they hide it).
function showInTable(i){var k=idx.indexOf(i);
 if(k<0){$('filter').value='';$('onlydiff').checked=false;filterIdx();k=idx.indexOf(i);}
 page=Math.floor(k/PER);draw();return $('tr-'+i);}

// ---- A row's details: a panel at the right edge, beside the table (over it on a narrow window) ----
function label(b){if(b===D.hist_zero)return'0';if(b===D.hist_under)return'<2^'+D.hist_first_exp;if(b===D.hist_over)return'big';
 return '2^'+(D.hist_first_exp+(b-D.hist_first_bin));}
function bars(title,h){if(!h||!h.length)return '<p>'+title+': (none)</p>';var top=0;h.forEach(function(x){top=Math.max(top,x[1]);});
 return '<p><b>'+title+'</b></p><div class="bars">'+h.map(function(x){return '<div><span>'+label(x[0])+'</span><i style="width:'+
  Math.max(1,Math.round(240*x[1]/top))+'px"></i>&nbsp;'+x[1]+'</div>';}).join('')+'</div>';}
function link(name){var k=D.name.indexOf(name);return k<0?esc(name):'<a class="row-link" href="#row-'+k+'" data-row="'+k+'">'+esc(name)+'</a>';}
function detail(i){
 var b=(i===FD?'<span class="b-fd">first divergence</span>':'')+(D.jump[i]?'<span class="b-j">'+
  (D.name[i]===D.first_jump?'first jump':'jump')+'</span>':'')+(D.copy_of[i]!==null?'<span class="b-x">copy</span>':'');
 var mm=D.mismatches[i]===null?null:D.mismatches[i]+' of '+D.count[i]+(D.count[i]?' ('+(+(100*D.mismatches[i]/D.count[i]).toPrecision(3))+'%)':'');
 var f=[['status',esc(D.status[i])],['reason',esc(D.reason[i])],['order',D.order[i]],['dtype',esc(D.dtype[i])],['shape',esc(D.shape[i])],
  ['value a',D.value_a[i]===null?null:esc(D.value_a[i])],['value b',D.value_b[i]===null?null:esc(D.value_b[i])],
  ['copy of',D.copy_of[i]===null?null:link(D.copy_of[i])+' (the same data on both sides: its error, not a new one)'],
  ['made after',D.gap_after[i]===null?null:link(D.gap_after[i])+' (the code between the two made the error)'],
  ['mismatched',mm],['max|d|',D.max_abs[i]===null?null:full(D.max_abs[i])+(D.max_at[i]?' at '+esc(D.max_at[i]):'')],
  ['max rel',full(D.max_rel[i])],['rel L2',full(D.rel_l2[i])],
  ['cosine',D.cosine[i]===null?null:cos(D.cosine[i],0)+(cos(D.cosine[i],0)!==full(D.cosine[i])?' = '+full(D.cosine[i]):'')],
  ['NaN/inf mismatched',D.nonfinite[i]||null],['growth',D.growth[i]===null?null:'x'+full(D.growth[i])],
  ['l2(b)/l2(a)',full(D.scale[i])],['mean shift (rms)',full(D.shift[i])],['source',esc(D.source[i])]];
 var html='<button class="close" title="close (Esc)">\u00d7</button><h2>'+esc(D.name[i])+'</h2><div class="badges">'+b+'</div><table>'+
  f.filter(function(x){return x[1]!==null&&x[1]!==''&&x[1]!==undefined;}).map(function(x){
   return '<tr><td>'+x[0]+'</td><td class="v">'+x[1]+'</td></tr>';}).join('')+'</table>';
 return html+bars('|b - a| (error magnitude)',D.err_hist[i])+bars('|a|',D.hist_a[i])+bars('|b|',D.hist_b[i]);}
// Opening and closing the panel may change the page's width: the plots follow.
function panel(open){var w=cvs[0].clientWidth;document.body.classList.toggle('detail-open',open);$('detail').hidden=!open;
 if(cvs[0].clientWidth!==w)drawPlots();}
function closeDetail(){panel(false);$('detail').dataset.row='';}
function openRow(i){if(!(i>=0&&i<N))return;sel=i;var tr=showInTable(i),d=$('detail');
 d.innerHTML=detail(i);panel(true);d.dataset.row=i;d.scrollTop=0;
 // the row near the top of the table's box (a few rows before it show), and on the screen
 if(tr){var box=$('tablebox');box.scrollTop=Math.max(0,tr.offsetTop-Math.min(box.clientHeight/3,100));tr.scrollIntoView({block:'nearest'});}
 // for the tests: whether the row and its details ended up in the window
 var r=tr?tr.getBoundingClientRect():null,b=d.getBoundingClientRect(),h=window.innerHeight;
 d.dataset.rowInView=r&&r.top>=0&&r.bottom<=h?'1':'0';d.dataset.inView=b.top<h&&b.bottom>0&&b.height>0?'1':'0';
 d.dataset.beside=b.left>=$('tablebox').getBoundingClientRect().right-1?'1':'0';}
$('tb').onclick=function(e){var tr=e.target.closest('tr');if(tr)openRow(+tr.dataset.i);};
document.addEventListener('click',function(e){var a=e.target.closest&&e.target.closest('a.row-link');
 if(a){e.preventDefault();openRow(+a.dataset.row);return;}if(e.target.classList.contains('close'))closeDetail();});
document.addEventListener('keydown',function(e){if(e.key==='Escape')closeDetail();});
// The address names a row as #row-N; no element has that id, so the browser scrolls nowhere itself.
function fromHash(){var m=/^#row-(\d+)$/.exec(location.hash);if(m)openRow(+m[1]);}
window.addEventListener('hashchange',fromHash);
var resized=null;window.addEventListener('resize',function(){clearTimeout(resized);resized=setTimeout(drawPlots,100);});

drawPlots();rebuild();
// The table opens at the first divergence (a link in the address opens that row instead).
if(location.hash)window.addEventListener('load',function(){setTimeout(fromHash,0);});
else if(FD>=0){var tr=showInTable(FD),box=$('tablebox');if(tr)box.scrollTop=Math.max(0,tr.offsetTop-Math.min(box.clientHeight/3,100));}
document.body.dataset.ready='1';
})();
