@r@
identifier fn =~ "^legacy_";
@@
fn(...)

@script:python s@
fn << r.fn;
nfn;
@@
coccinelle.nfn = cocci.make_ident(fn.replace("legacy_", "modern_"))

@@
identifier r.fn;
identifier s.nfn;
@@
- fn
+ nfn
  (...)
