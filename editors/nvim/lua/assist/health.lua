--- :checkhealth assist — is the server installed, can Neovim show ghost text, is a client
--- attached and what does the server say about its index.

local M = {}

local function check_neovim(assist)
  vim.health.start('assist: Neovim')
  local version = tostring(vim.version())
  if vim.fn.has('nvim-0.11') == 1 then
    vim.health.ok('Neovim ' .. version)
  else
    vim.health.error('Neovim ' .. version .. ' is too old', 'assist.nvim needs Neovim 0.11+')
  end
  if assist.has_inline_completion() then
    if assist.config.inline_completion then
      vim.health.ok('inline completion (vim.lsp.inline_completion) is available: ghost text')
    else
      vim.health.info('inline completion is turned off (inline_completion = false)')
    end
  else
    vim.health.warn(
      'this Neovim has no vim.lsp.inline_completion: suggestions come as completion items',
      'Neovim 0.12 shows them as ghost text'
    )
  end
end

local function check_server(assist)
  vim.health.start('assist: server')
  local missing = assist.missing_executable()
  if missing then
    vim.health.error(missing)
    return false
  end
  local cmd = assist.config.cmd
  if type(cmd) ~= 'table' then
    vim.health.info('cmd is a function: the executable is not checked')
    return true
  end
  vim.health.ok(('executable found: %s'):format(vim.fn.exepath(cmd[1])))
  local ok, run = pcall(function()
    return vim.system(assist.version_cmd(), { text = true }):wait(15000)
  end)
  if ok and run.code == 0 then
    vim.health.ok('version: ' .. vim.trim(run.stdout))
  else
    local detail = ok and vim.trim((run.stderr or '') .. (run.stdout or '')) or tostring(run)
    vim.health.error(
      ('`%s` failed: %s'):format(table.concat(assist.version_cmd(), ' '), detail),
      'reinstall: pipx install --force assist-server'
    )
  end
  return true
end

local function check_clients(assist)
  vim.health.start('assist: language server')
  local clients = assist.clients()
  if #clients == 0 then
    vim.health.warn(
      'no assist client is running',
      'open a file of one of these filetypes: ' .. table.concat(assist.filetypes, ', ')
    )
    return
  end
  for _, client in ipairs(clients) do
    local buffers = vim.tbl_keys(client.attached_buffers)
    table.sort(buffers)
    vim.health.ok(
      ('client %d attached to buffers %s, root %s'):format(
        client.id,
        table.concat(buffers, ', '),
        client.root_dir or '(none)'
      )
    )
    if assist.has_inline_completion() and assist.config.inline_completion then
      if client:supports_method('textDocument/inlineCompletion') then
        vim.health.ok('the server offers inline completion')
      else
        vim.health.warn('the server does not offer inline completion (completion.enabled?)')
      end
    end
    local line, status = assist.status_line(client)
    if status and (status.state == 'ready' or status.state == 'indexing') then
      vim.health.ok(line)
    elseif status and status.state == 'disabled' then
      vim.health.info(line)
    else
      vim.health.warn(line)
    end
  end
end

function M.check()
  local assist = require('assist')
  check_neovim(assist)
  if check_server(assist) then
    check_clients(assist)
  end
end

return M
