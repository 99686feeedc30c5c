; Definitions, imports and references of C#, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.
; Namespaces are not captured: what they hold counts as top level.

(class_declaration name: (identifier) @name) @definition.class

(record_declaration name: (identifier) @name) @definition.class

(struct_declaration name: (identifier) @name) @definition.struct

(interface_declaration name: (identifier) @name) @definition.interface

(enum_declaration name: (identifier) @name) @definition.enum

(method_declaration name: (identifier) @name) @definition.method

(constructor_declaration name: (identifier) @name) @definition.method

(delegate_declaration name: (identifier) @name) @definition.type

(using_directive
  name: (identifier) @import.alias
  [(qualified_name) (identifier)] @import.module) @import

(using_directive
  !name
  [(qualified_name) (identifier)] @import.module) @import

; References

(identifier) @reference

(parameter name: (identifier) @local)
(variable_declarator name: (identifier) @local)
(property_declaration name: (identifier) @local)
(enum_member_declaration name: (identifier) @local)
(implicit_parameter) @local
(tuple_element name: (identifier) @local)

(namespace_declaration name: (_) @ignore)
(file_scoped_namespace_declaration name: (_) @ignore)
