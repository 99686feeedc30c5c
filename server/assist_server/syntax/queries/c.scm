; Definitions, imports and references of C, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator
      declarator: (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))
  ]) @definition.function

(struct_specifier name: (type_identifier) @name body: (_)) @definition.struct

(union_specifier name: (type_identifier) @name body: (_)) @definition.struct

(enum_specifier name: (type_identifier) @name body: (_)) @definition.enum

(type_definition
  type: [(struct_specifier !name body: (_)) (union_specifier !name body: (_))]
  declarator: (type_identifier) @name) @definition.struct

(type_definition
  type: (enum_specifier !name body: (_))
  declarator: (type_identifier) @name) @definition.enum

(type_definition declarator: (type_identifier) @name) @definition.type

(preproc_def name: (identifier) @name) @definition.constant

(translation_unit
  (declaration
    (type_qualifier) @_const
    declarator: (init_declarator declarator: (identifier) @name)) @definition.constant
  (#eq? @_const "const"))

(preproc_include path: (_) @import.module) @import

; References

(identifier) @reference
(field_identifier) @reference
(type_identifier) @reference

(parameter_declaration declarator: (identifier) @local)
(parameter_declaration declarator: (pointer_declarator declarator: (identifier) @local))
(init_declarator declarator: (identifier) @local)
(declaration declarator: (identifier) @local)
(field_declaration declarator: (field_identifier) @local)
(field_declaration declarator: (pointer_declarator declarator: (field_identifier) @local))
(enumerator name: (identifier) @local)
