@echo off
rem Quick start on Windows, the same steps as start-servers.sh: install dependencies if needed,
rem build, write .env with a random JWT_SECRET when there is none, create the demo company and
rem admin on a database without any company (printing the login once), then start both servers.
rem Arguments go to scripts\start.mjs: --nodes N runs N signaling nodes behind HAProxy on one
rem Redis (docs\DEPLOY.md), which needs haproxy and redis-server on PATH, rare on Windows.
setlocal
cd /d "%~dp0"

where node >nul 2>nul
if errorlevel 1 goto :no_node
node -e "process.exit(parseInt(process.versions.node, 10) < 20 ? 1 : 0)"
if errorlevel 1 goto :old_node

rem npm writes node_modules\.package-lock.json on every install; reinstall when it is missing
rem or older than package-lock.json.
if not exist package-lock.json goto :install_no_lock
node -e "const fs=require('fs');const t=(f)=>fs.statSync(f).mtimeMs;process.exit(fs.existsSync('node_modules/.package-lock.json')&&t('node_modules/.package-lock.json')>=t('package-lock.json')?0:1)"
if not errorlevel 1 goto :build
echo start-servers: installing dependencies (npm ci)...
call npm ci
if errorlevel 1 goto :failed
goto :build

:install_no_lock
if exist node_modules goto :build
echo start-servers: installing dependencies (npm install)...
call npm install
if errorlevel 1 goto :failed

:build
echo start-servers: building...
call npm run --silent build
if errorlevel 1 goto :failed

if exist .env goto :start
if not exist env.example (
  echo start-servers: env.example is missing; cannot write .env. 1>&2
  exit /b 1
)
node -e "const fs=require('fs');const s=require('crypto').randomBytes(32).toString('hex');fs.writeFileSync('.env',fs.readFileSync('env.example','utf8').replace(/^JWT_SECRET=.*$/m,'JWT_SECRET='+s),{mode:0o600})"
if errorlevel 1 goto :failed
echo start-servers: wrote .env from env.example with a random JWT_SECRET.

:start
rem Migrates the database; on one without any company, creates "demo" and prints its login once.
call npm run --silent admin -- seed-demo
if errorlevel 1 goto :failed
call npm start -- %*
exit /b %errorlevel%

:no_node
echo start-servers: Node.js 20 or newer is required, and node is not on PATH (https://nodejs.org/). 1>&2
exit /b 1

:old_node
echo start-servers: Node.js 20 or newer is required; please upgrade. 1>&2
exit /b 1

:failed
echo start-servers: a step failed; see the messages above. 1>&2
exit /b 1
