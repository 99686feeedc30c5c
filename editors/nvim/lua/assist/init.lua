--- assist.nvim: the assist-server language server in Neovim (0.11+).
---
--- Registers the server with `vim.lsp.config`/`vim.lsp.enable`, shows its suggestions as ghost
--- text through `vim.lsp.inline_completion` (Neovim 0.12+) or as completion items (0.11), and
--- adds :AssistStatus, :AssistContext and :AssistReindex.

local M = {}

local NAME = 'assist'
local INLINE = 'textDocument/inlineCompletion'
local INSTALL = 'pipx install assist-server (or: pip install assist-server)'

--- Filetypes whose syntax the server knows (tree-sitter grammars ship with it).
M.filetypes = {
  'python',
  'javascript',
  'javascriptreact',
  'typescript',
  'typescriptreact',
  'go',
  'rust',
  'java',
  'c',
  'cpp',
  'cs',
  'ruby',
  'php',
  'sh',
  'bash',
  'lua',
}

M.defaults = {
  -- How to start the server; the first element must be an executable.
  cmd = { 'assist-server', '--stdio' },
  -- Filetypes to attach to: a list, or "all" for every file buffer.
  filetypes = M.filetypes,
  -- Files or folders that mark a workspace root (the folder the server indexes).
  root_markers = { '.git', '.hg', '.jj', 'pyproject.toml', 'package.json', 'go.mod', 'Cargo.toml' },
  -- The server's `assist` settings (see the server README), nested or dotted camelCase keys.
  settings = {},
  -- Ghost text through vim.lsp.inline_completion where Neovim has it (0.12+).
  inline_completion = true,
  -- Insert-mode keys for ghost text; false turns one off.
  keymaps = { accept = '<Tab>', next = '<M-]>', prev = '<M-[>', dismiss = '<C-]>' },
}

--- The options in effect after setup().
M.config = vim.deepcopy(M.defaults)

local function notify(message, level)
  vim.notify('assist: ' .. message, level or vim.log.levels.INFO)
end

--- Whether this Neovim has LSP inline completion (0.12+).
function M.has_inline_completion()
  local ok, inline = pcall(function()
    return vim.lsp.inline_completion
  end)
  return ok and type(inline) == 'table' and type(inline.enable) == 'function'
end

--- Whether ghost text is used: Neovim has it and the user did not turn it off.
local function uses_inline()
  return M.config.inline_completion and M.has_inline_completion()
end

--- The message for a missing executable, or nil when the command can be started.
function M.missing_executable()
  local cmd = M.config.cmd
  if type(cmd) ~= 'table' then
    return nil -- a function (e.g. an RPC connection): nothing to look up
  end
  if vim.fn.executable(cmd[1]) == 1 then
    return nil
  end
  return ('the server `%s` was not found. Install it with: %s; then restart Neovim'):format(
    cmd[1],
    INSTALL
  )
end

--- The command that prints the server's version (the start command without its options).
function M.version_cmd()
  local cmd = M.config.cmd
  if type(cmd) ~= 'table' then
    return nil
  end
  local out = {}
  for _, arg in ipairs(cmd) do
    if arg:sub(1, 2) == '--' then
      break
    end
    out[#out + 1] = arg
  end
  out[#out + 1] = '--version'
  return out
end

--- `t` as a JSON object even when empty (an empty Lua table is encoded as a list).
local function as_object(t)
  return next(t) == nil and vim.empty_dict() or t
end

--- The settings as the server receives them at initialize. Without ghost text the suggestion
--- must come as a completion item even where Neovim advertises inline completion.
local function init_options(settings)
  local options = vim.deepcopy(settings)
  local completion = type(options.completion) == 'table' and options.completion or nil
  local chosen = options['completion.asCompletionItem']
    or options['assist.completion.asCompletionItem']
    or (completion and completion.asCompletionItem)
  if not uses_inline() and chosen == nil then
    options.completion = completion or {}
    options.completion.asCompletionItem = 'always'
  end
  return as_object(options)
end

--- The assist clients: those of `bufnr` if given, else all.
function M.clients(bufnr)
  return vim.lsp.get_clients({ name = NAME, bufnr = bufnr })
end

--- The client serving the current buffer, or nil after saying why there is none.
local function current_client()
  local client = M.clients(0)[1] or M.clients()[1]
  if client then
    return client
  end
  local missing = M.missing_executable()
  notify(
    missing or 'no server is attached to this buffer (see :checkhealth assist)',
    vim.log.levels.WARN
  )
  return nil
end

--- The ghost text's namespace, once inline completion has created it.
local function ghost_namespace()
  return vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
end

--- Whether ghost text is shown in `bufnr`.
function M.has_suggestion(bufnr)
  local ns = ghost_namespace()
  return ns ~= nil and #vim.api.nvim_buf_get_extmarks(bufnr or 0, ns, 0, -1, { limit = 1 }) > 0
end

--- Hide the ghost text and drop its request. Neovim has no public call for this yet: leaving
--- insert mode calls the completor's abort(), which we call too when it is there; otherwise
--- inline completion is switched off and on for the buffer, which also drops the suggestion.
function M.dismiss(bufnr)
  bufnr = bufnr == nil and vim.api.nvim_get_current_buf() or bufnr
  local ok, capability = pcall(require, 'vim.lsp._capability')
  local completor = ok and vim.tbl_get(capability, 'all', 'inline_completion', 'active', bufnr)
  if completor and type(completor.abort) == 'function' then
    completor:abort()
    return
  end
  for _, client in ipairs(M.clients(bufnr)) do
    for id, request in pairs(client.requests) do
      if request.method == INLINE and request.bufnr == bufnr and request.type == 'pending' then
        client:cancel_request(id)
      end
    end
  end
  vim.lsp.inline_completion.enable(false, { bufnr = bufnr })
  vim.lsp.inline_completion.enable(true, { bufnr = bufnr })
end

--- What `lhs` did in insert mode before we mapped it in `bufnr` (Neovim's own <Tab> jumps in
--- snippets, completion plugins map it too), as a function giving the keys to send.
local function previous_mapping(bufnr, lhs)
  local previous = vim.api.nvim_buf_call(bufnr, function()
    return vim.fn.maparg(lhs, 'i', false, true)
  end)
  if vim.tbl_isempty(previous) or vim.startswith(previous.desc or '', 'assist:') then
    return function()
      return lhs
    end
  end
  return function()
    if previous.callback then
      local keys = previous.callback()
      return previous.expr == 1 and keys or ''
    end
    local keys = previous.expr == 1 and vim.api.nvim_eval(previous.rhs) or previous.rhs
    -- Our mapping cannot be "remap" for some keys only: send those keys ourselves.
    vim.api.nvim_feedkeys(vim.keycode(keys), previous.noremap == 1 and 'n' or 'm', false)
    return ''
  end
end

--- Buffer-local insert-mode keys for ghost text; without a suggestion each does what it did.
local function map_inline_keys(bufnr)
  local keys = M.config.keymaps or {}
  local function map(lhs, desc, action)
    if not lhs then
      return
    end
    local fallback = previous_mapping(bufnr, lhs)
    vim.keymap.set('i', lhs, function()
      if action() then
        return ''
      end
      return fallback()
    end, { buffer = bufnr, expr = true, desc = 'assist: ' .. desc })
  end
  map(keys.accept, 'accept the suggestion', function()
    return vim.lsp.inline_completion.get({ bufnr = bufnr })
  end)
  map(keys.next, 'next suggestion', function()
    if not M.has_suggestion(bufnr) then
      return false
    end
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = 1 })
    return true
  end)
  map(keys.prev, 'previous suggestion', function()
    if not M.has_suggestion(bufnr) then
      return false
    end
    vim.lsp.inline_completion.select({ bufnr = bufnr, count = -1 })
    return true
  end)
  map(keys.dismiss, 'dismiss the suggestion', function()
    if not M.has_suggestion(bufnr) then
      return false
    end
    -- Mappings with expr may not change buffers or extmarks: dismiss right after.
    vim.schedule(function()
      M.dismiss(bufnr)
    end)
    return true
  end)
end

--- Neovim inserts only the first word of a plain-text completion item (up to a space or line
--- break) and applies the rest of an edit only for snippets: once one of our items is accepted,
--- the whole suggestion replaces that word.
local function complete_whole_suggestion(client, bufnr)
  vim.api.nvim_create_autocmd('CompleteDone', {
    group = vim.api.nvim_create_augroup('assist.complete.' .. bufnr, { clear = true }),
    buffer = bufnr,
    callback = function()
      local lsp = vim.tbl_get(vim.v.completed_item, 'user_data', 'nvim', 'lsp') or {}
      local item = lsp.completion_item
      local edit = item and item.textEdit
      local reason = vim.v.event.reason
      if lsp.client_id ~= client.id or not edit or (reason and reason ~= 'accept') then
        return
      end
      local row, col = unpack(vim.api.nvim_win_get_cursor(0))
      local line = vim.api.nvim_buf_get_lines(bufnr, row - 1, row, true)[1]
      local start = edit.range.start
      if start.line ~= row - 1 then
        return
      end
      local start_col = vim.str_byteindex(line, client.offset_encoding, start.character, false)
      local lines = vim.split(edit.newText, '\n', { plain = true })
      vim.api.nvim_buf_set_text(bufnr, row - 1, start_col, row - 1, col, lines)
      local last = #lines == 1 and start_col + #lines[1] or #lines[#lines]
      vim.api.nvim_win_set_cursor(0, { row + #lines - 1, last })
    end,
  })
end

local function on_attach(args)
  local client = vim.lsp.get_client_by_id(args.data.client_id)
  if not client or client.name ~= NAME then
    return
  end
  if uses_inline() then
    -- Turns on for this buffer; Neovim starts the completor right after LspAttach.
    vim.lsp.inline_completion.enable(true, { bufnr = args.buf })
    map_inline_keys(args.buf)
  elseif vim.lsp.completion and client:supports_method('textDocument/completion') then
    -- Neovim 0.11: the suggestion is one completion item (<C-x><C-o>, or the completion menu).
    vim.lsp.completion.enable(true, client.id, args.buf, { autotrigger = false })
    complete_whole_suggestion(client, args.buf)
    -- One suggestion is one item: without "menuone" Vim shows no menu for it, and <C-y> has
    -- nothing to accept.
    vim.api.nvim_buf_call(args.buf, function()
      vim.opt_local.completeopt:append('menuone')
    end)
  end
end

--- `assist/status` of one client, as one line.
local function status_line(client)
  local answer, reason = client:request_sync('assist/status', vim.empty_dict(), 5000)
  local prefix = ('assist (%s): '):format(client.root_dir or 'no workspace')
  if not answer then
    return prefix .. 'no answer (' .. tostring(reason or 'client stopped') .. ')'
  end
  if answer.err then
    return prefix .. 'error: ' .. tostring(answer.err.message)
  end
  local s = answer.result or {}
  local line = ('%s, %d files, %d chunks, %d embedded'):format(
    s.state or '?',
    s.files or 0,
    s.chunks or 0,
    s.embedded or 0
  )
  if s.lastError and s.lastError ~= vim.NIL then
    line = line .. ', last error: ' .. tostring(s.lastError)
  end
  return prefix .. line, s
end
M.status_line = status_line

local function cmd_status()
  local clients = M.clients()
  if #clients == 0 then
    notify(
      M.missing_executable() or 'no server running (open a file of a supported filetype)',
      vim.log.levels.WARN
    )
    return
  end
  for _, client in ipairs(clients) do
    print((status_line(client)))
  end
end

--- Lines of `path` (relative to one of the client's workspace folders), or nil.
local function read_lines(client, path, first, last)
  local roots = {}
  for _, folder in ipairs(client.workspace_folders or {}) do
    roots[#roots + 1] = vim.uri_to_fname(folder.uri)
  end
  if client.root_dir then
    roots[#roots + 1] = client.root_dir
  end
  for _, root in ipairs(roots) do
    local file = vim.fs.joinpath(root, path)
    if vim.fn.filereadable(file) == 1 then
      return vim.list_slice(vim.fn.readfile(file), first, last)
    end
  end
  return nil
end

--- The report of assist.showContext as markdown lines.
function M.context_lines(client, result, where, filetype)
  local snippets = result.snippets or {}
  local lines = {
    ('# assist context at %s'):format(where),
    '',
    ('%d snippets from other files, %d prompt tokens'):format(
      #snippets,
      result.prompt_tokens or 0
    ),
  }
  if result.skipped then
    lines[#lines + 1] = 'no completion here: ' .. tostring(result.skipped)
  end
  for _, s in ipairs(snippets) do
    vim.list_extend(lines, {
      '',
      ('## %s:%d-%d  %s  score %.3f  %d tokens'):format(
        s.path,
        s.start_line,
        s.end_line,
        s.source,
        s.score,
        s.tokens
      ),
      '',
    })
    local code = read_lines(client, s.path, s.start_line, s.end_line)
    if code then
      lines[#lines + 1] = '```' .. (vim.filetype.match({ filename = s.path }) or filetype)
      vim.list_extend(lines, code)
      lines[#lines + 1] = '```'
    end
  end
  return lines
end

local function show_in_scratch(lines)
  vim.cmd('botright new')
  local buf = vim.api.nvim_get_current_buf()
  vim.bo[buf].buftype = 'nofile'
  vim.bo[buf].bufhidden = 'wipe'
  vim.bo[buf].swapfile = false
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
  vim.bo[buf].filetype = 'markdown'
  pcall(vim.api.nvim_buf_set_name, buf, 'assist://context')
  return buf
end

local function cmd_context()
  local client = current_client()
  if not client then
    return
  end
  local bufnr = vim.api.nvim_get_current_buf()
  local params = vim.lsp.util.make_position_params(0, client.offset_encoding)
  local where = ('%s:%d:%d'):format(
    vim.fn.expand('%:~:.'),
    params.position.line + 1,
    params.position.character + 1
  )
  local filetype = vim.bo[bufnr].filetype
  client:request('workspace/executeCommand', {
    command = 'assist.showContext',
    arguments = { { textDocument = params.textDocument, position = params.position } },
  }, function(err, result)
    if err then
      notify('assist.showContext failed: ' .. tostring(err.message), vim.log.levels.ERROR)
      return
    end
    show_in_scratch(M.context_lines(client, result or {}, where, filetype))
  end, bufnr)
end

local function cmd_reindex()
  local clients = M.clients()
  if #clients == 0 then
    current_client()
    return
  end
  for _, client in ipairs(clients) do
    local params = { command = 'assist.reindex', arguments = {} }
    client:request('workspace/executeCommand', params, function(err, result)
      if err then
        notify('re-indexing failed: ' .. tostring(err.message), vim.log.levels.ERROR)
        return
      end
      local state = result and result.state or '?'
      notify(('re-indexing %s: %s'):format(client.root_dir or 'the workspace', state))
    end)
  end
end

--- Register and start the server. Safe to call again with new options.
--- The buffers a workspace edit changes, each with its b:changedtick now.
local function edited_buffers(edit)
  local ticks = {}
  local function note(uri, edits)
    if uri and edits and #edits > 0 then
      local bufnr = vim.uri_to_bufnr(uri)
      ticks[bufnr] = vim.api.nvim_buf_get_changedtick(bufnr)
    end
  end
  for _, change in ipairs(edit.documentChanges or {}) do
    if change.textDocument then
      note(change.textDocument.uri, change.edits)
    end
  end
  for uri, edits in pairs(edit.changes or {}) do
    note(uri, edits)
  end
  return ticks
end

--- workspace/applyEdit as Neovim answers it, except that an edit the user declined (the
--- "Apply all changes?" question of an edit marked needsConfirmation) is reported as not
--- applied: Neovim answers applied=true for it, and the server would report an edit that never
--- landed.
function M.apply_edit(err, params, ctx)
  local ticks = params and params.edit and edited_buffers(params.edit) or {}
  local answer = vim.lsp.handlers['workspace/applyEdit'](err, params, ctx)
  if not (answer and answer.applied and next(ticks)) then
    return answer
  end
  for bufnr, tick in pairs(ticks) do
    if vim.api.nvim_buf_get_changedtick(bufnr) ~= tick then
      return answer
    end
  end
  return { applied = false, failureReason = 'declined' }
end

function M.setup(opts)
  if vim.fn.has('nvim-0.11') == 0 then
    notify('needs Neovim 0.11 or newer (vim.lsp.config)', vim.log.levels.ERROR)
    return
  end
  opts = opts or {}
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts)
  -- Lists would be merged index by index ({ 'my-server' } + the default { 'assist-server',
  -- '--stdio' } gives { 'my-server', '--stdio' }): these options are taken whole.
  for _, key in ipairs({ 'cmd', 'filetypes', 'root_markers', 'settings' }) do
    if opts[key] ~= nil then
      M.config[key] = vim.deepcopy(opts[key])
    end
  end

  vim.api.nvim_create_user_command('AssistStatus', cmd_status, { desc = 'assist: index status' })
  vim.api.nvim_create_user_command(
    'AssistContext',
    cmd_context,
    { desc = 'assist: what a completion at the cursor would see' }
  )
  vim.api.nvim_create_user_command('AssistReindex', cmd_reindex, { desc = 'assist: index again' })

  local group = vim.api.nvim_create_augroup('assist', { clear = true })
  vim.api.nvim_create_autocmd('LspAttach', { group = group, callback = on_attach })

  local missing = M.missing_executable()
  if missing then
    notify(missing, vim.log.levels.WARN)
    vim.lsp.enable(NAME, false)
    return
  end
  local filetypes = M.config.filetypes
  -- Assigned, not merged, so that calling setup() again replaces the options.
  vim.lsp.config[NAME] = {
    cmd = M.config.cmd,
    filetypes = filetypes ~= 'all' and filetypes or nil,
    root_markers = M.config.root_markers,
    init_options = init_options(M.config.settings),
    -- Answers workspace/configuration for the section `assist`.
    settings = { assist = as_object(vim.deepcopy(M.config.settings)) },
    -- Neovim applies documentChanges (it checks their version, and asks before an edit marked
    -- needsConfirmation) but does not say so: without this the server sends plain `changes`,
    -- with no version to check and no confirmation (its chat.confirmEdits).
    capabilities = { workspace = { workspaceEdit = { documentChanges = true } } },
    handlers = { ['workspace/applyEdit'] = M.apply_edit },
  }
  vim.lsp.enable(NAME)
end

return M
