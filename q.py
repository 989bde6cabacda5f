import socket,struct,sys
q=struct.pack(">HHHHHH",0x1234,0x0100,1,0,0,0)+b"".join(bytes([len(x)])+x.encode() for x in "test.lmproc".split("."))+b"\0"+struct.pack(">HH",1,1)
s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3); s.sendto(q,("127.0.0.1",15353)); r=s.recv(512); print("answer", ".".join(str(b) for b in r[-4:]))
