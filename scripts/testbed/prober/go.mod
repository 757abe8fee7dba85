module selfhost.local/bed-prober

go 1.24.0
