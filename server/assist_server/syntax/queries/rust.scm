; Definitions, imports and references of Rust, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(function_item name: (identifier) @name) @definition.function

(function_signature_item name: (identifier) @name) @definition.function

(struct_item name: (type_identifier) @name) @definition.struct

(union_item name: (type_identifier) @name) @definition.struct

(enum_item name: (type_identifier) @name) @definition.enum

(trait_item name: (type_identifier) @name) @definition.trait

(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (scoped_type_identifier name: (type_identifier) @name)
  ]) @definition.impl

(type_item name: (type_identifier) @name) @definition.type

(const_item name: (identifier) @name) @definition.constant

(static_item name: (identifier) @name) @definition.constant

(use_declaration argument: (identifier) @import.module) @import

(use_declaration
  argument: (scoped_identifier path: (_) @import.module name: (identifier) @import.name)) @import

(use_declaration
  argument: (use_as_clause
    path: (scoped_identifier path: (_) @import.module name: (_) @import.name)
    alias: (identifier) @import.alias)) @import

(use_declaration
  argument: (use_as_clause path: (identifier) @import.module alias: (identifier) @import.alias)) @import

(use_declaration
  argument: (scoped_use_list
    path: (_) @import.module
    list: (use_list
      [
        (identifier) @import.name
        (scoped_identifier name: (identifier) @import.name)
        (use_as_clause alias: (identifier) @import.alias)
      ]))) @import

(use_declaration argument: (use_wildcard (_) @import.module)) @import

; References

(identifier) @reference
(field_identifier) @reference
(type_identifier) @reference

(parameter pattern: (identifier) @local)
(let_declaration pattern: (identifier) @local)
(field_declaration name: (field_identifier) @local)
(closure_parameters (identifier) @local)
(type_parameter name: (type_identifier) @local)
