@echo off
rem kubectl's completion helper for the selfhost plugin on Windows (see kubectl_complete-selfhost).
if exist "%~dp0kubectl-selfhost.exe" (
  "%~dp0kubectl-selfhost.exe" __complete %*
) else (
  kubectl-selfhost __complete %*
)
