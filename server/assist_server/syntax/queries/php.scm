; Definitions, imports and references of PHP, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.
; Namespaces are not captured: what they hold counts as top level.

(class_declaration name: (name) @name) @definition.class

(interface_declaration name: (name) @name) @definition.interface

(trait_declaration name: (name) @name) @definition.trait

(enum_declaration name: (name) @name) @definition.enum

(function_definition name: (name) @name) @definition.function

(method_declaration name: (name) @name) @definition.method

(const_declaration (const_element (name) @name)) @definition.constant

(namespace_use_clause
  (qualified_name (namespace_name) @import.module (name) @import.name)
  alias: (name)? @import.alias) @import

(namespace_use_clause . (name) @import.module alias: (name)? @import.alias) @import

[
  (require_expression
    [(string (string_content) @import.module) (binary_expression right: (string (string_content) @import.module))])
  (require_once_expression
    [(string (string_content) @import.module) (binary_expression right: (string (string_content) @import.module))])
  (include_expression
    [(string (string_content) @import.module) (binary_expression right: (string (string_content) @import.module))])
  (include_once_expression
    [(string (string_content) @import.module) (binary_expression right: (string (string_content) @import.module))])
] @import

; References

(name) @reference

(simple_parameter name: (variable_name (name) @local))
(property_promotion_parameter name: (variable_name (name) @local))
(property_element name: (variable_name (name) @local))

(namespace_definition name: (_) @ignore)
