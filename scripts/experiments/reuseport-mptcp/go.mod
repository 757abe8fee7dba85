module mptcptest
go 1.24
