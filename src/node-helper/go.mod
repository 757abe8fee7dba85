module kubectl-selfhost.local/node-helper

go 1.24.0
