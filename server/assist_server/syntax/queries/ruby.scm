; Definitions, imports and references of Ruby, for syntax/chunking.py.
; @definition.<kind> marks a definition, @name its name (@scope: its owner, @body: its body);
; @import an import with @import.module (@import.name, @import.alias: the names it binds);
; @reference a name used, unless it is also @local (bound here) or inside an @ignore node.

(class name: [(constant) (scope_resolution)] @name) @definition.class

(module name: [(constant) (scope_resolution)] @name) @definition.module

(method name: (_) @name) @definition.function

(singleton_method name: (_) @name) @definition.function

(assignment left: (constant) @name) @definition.constant

(call
  method: (identifier) @_require
  arguments: (argument_list . (string (string_content) @import.module))
  (#match? @_require "^(require|require_relative|load)$")) @import

; References

(identifier) @reference
(constant) @reference

(method_parameters (identifier) @local)
(block_parameters (identifier) @local)
(optional_parameter name: (identifier) @local)
(keyword_parameter name: (identifier) @local)
(splat_parameter name: (identifier) @local)
(block_parameter name: (identifier) @local)
(assignment left: (identifier) @local)
