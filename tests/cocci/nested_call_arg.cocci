// spatch: fails because the inner and outer matches tag the same tokens twice
@@
expression E;
@@
- outer(inner(E))
+ combined(E)
