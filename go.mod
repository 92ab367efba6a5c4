module govirt

go 1.26
