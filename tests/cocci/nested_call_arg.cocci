// spatch: fails because the inner and outer matches tag the same tokens twice
// allocfix: fails because the outer and inner matches change overlapping text (reported as a conflict, not rewritten)
@@
expression E;
@@
- outer(inner(E))
+ combined(E)
