// Typed metavariables: field types from struct definitions in the file (typedef'd or
// not, array fields by element), array elements, and `(T *)` against `(void **)`. A name
// no visible declaration mentions has no type for spatch either: no match.
@@
type T;
T v;
@@
-	(T *)&v
+	&v
