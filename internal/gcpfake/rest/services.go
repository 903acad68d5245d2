package rest

import (
	"fmt"
	"sort"

	"connectrpc.com/vanguard"
	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
)

// servedOnly names, for a gRPC service whose descriptor declares HTTP rules that collide on one
// port with another API's, the methods whose REST paths are served. Google serves these APIs on
// different hosts: the IAM Admin API (iam.googleapis.com) still declares its deprecated
// signBlob and signJwt at the paths IAM Credentials (iamcredentials.googleapis.com) uses, and the
// fake models only its roles.get.
var servedOnly = map[string][]string{
	"google.iam.admin.v1.IAM": {"GetRole"},
}

// services are the gRPC server's services as vanguard serves them, as vanguardgrpc.NewTranscoder
// builds them, with the services of servedOnly cut down to their listed methods.
func services(srv *grpc.Server) ([]*vanguard.Service, vanguard.TranscoderOption, error) {
	codecs := []string{vanguard.CodecProto}
	if encoding.GetCodec(vanguard.CodecJSON) != nil {
		codecs = append(codecs, vanguard.CodecJSON)
	}
	names := make([]string, 0)
	for name := range srv.GetServiceInfo() {
		names = append(names, name)
	}
	sort.Strings(names)
	var out []*vanguard.Service
	for _, name := range names {
		methods, trimmed := servedOnly[name]
		if !trimmed {
			out = append(out, vanguard.NewService(name, srv))
			continue
		}
		schema, err := trimService(name, methods)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, vanguard.NewServiceWithSchema(schema, srv))
	}
	return out, vanguard.WithDefaultServiceOptions(vanguard.WithTargetCodecs(codecs...), vanguard.WithTargetProtocols(vanguard.ProtocolGRPC)), nil
}

// trimService is the registered descriptor of a gRPC service with only the given methods.
func trimService(name string, keep []string) (protoreflect.ServiceDescriptor, error) {
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(name))
	if err != nil {
		return nil, fmt.Errorf("REST: service %s: %w", name, err)
	}
	sd := d.(protoreflect.ServiceDescriptor)
	fdp := protodesc.ToFileDescriptorProto(sd.ParentFile())
	for _, s := range fdp.GetService() {
		if s.GetName() != string(sd.Name()) {
			continue
		}
		var methods []*descriptorpb.MethodDescriptorProto
		for _, m := range s.GetMethod() {
			for _, k := range keep {
				if m.GetName() == k {
					methods = append(methods, m)
				}
			}
		}
		s.Method = methods
	}
	// A copy of the file outside the registry, resolving its imports from it.
	fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
	if err != nil {
		return nil, fmt.Errorf("REST: trim %s: %w", name, err)
	}
	return fd.Services().ByName(sd.Name()), nil
}
